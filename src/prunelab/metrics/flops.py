"""Multiply-accumulates, operation counts and parameter counts of dense and masked networks.

Counting follows Liu et al.'s ``count_model_param_flops`` (docs/methods.md §3): a conv contributes
nnz(W)·H_out·W_out multiply-accumulates (only surviving weights count under an unstructured mask) plus one
add per output for its bias; a linear layer nnz(W) (+ bias); BatchNorm 2 ops per output element; ReLU one;
pooling k² per output element (adaptive pooling: one per input element). ``macs`` is the conv+linear part,
``ops`` everything; Scratch-B uses the ratio of ``ops`` of the dense and the pruned net.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from prunelab.masks import Mask


def _kept(module: nn.Module, mask: Mask | None, names: dict[int, str]) -> int:
    name = names.get(id(module.weight))
    if mask is not None and name in mask:
        return int(mask[name].sum())
    return module.weight.numel()


@torch.no_grad()
def count(model: nn.Module, input_shape: tuple[int, ...], mask: Mask | None = None) -> dict:
    """``{"macs", "ops", "params", "params_total"}`` for one example of ``input_shape``."""
    names = {id(p): n for n, p in model.named_parameters()}
    totals = {"macs": 0, "ops": 0}

    def hook(module, inputs, output):
        out_numel = output[0].numel() if output.dim() > 1 else output.numel()
        if isinstance(module, nn.Conv2d):
            spatial = output.shape[-2] * output.shape[-1]
            macs = _kept(module, mask, names) * spatial
            totals["macs"] += macs
            totals["ops"] += macs + (out_numel if module.bias is not None else 0)
        elif isinstance(module, nn.Linear):
            macs = _kept(module, mask, names)
            totals["macs"] += macs
            totals["ops"] += macs + (module.out_features if module.bias is not None else 0)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            totals["ops"] += 2 * out_numel
        elif isinstance(module, (nn.ReLU, nn.Tanh)):
            totals["ops"] += out_numel
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            size = module.kernel_size
            totals["ops"] += (size * size if isinstance(size, int) else math.prod(size)) * out_numel
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            totals["ops"] += inputs[0][0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    pruned = sum(m.numel() - int(m.sum()) for m in mask.values()) if mask is not None else 0
    params_total = sum(p.numel() for p in model.parameters())
    return {"macs": totals["macs"], "ops": totals["ops"], "params": params_total - pruned,
            "params_total": params_total}
