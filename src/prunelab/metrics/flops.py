"""Multiply-accumulates, operation counts and parameter counts of dense and masked networks.

``ops`` follows Liu et al.'s counters (docs/methods.md §3), the ones their Scratch-B budget divides
(``cifar/l1-norm-pruning/compute_flops.py`` for the compact structured nets, ``cifar/weight-level/count_flops.py``
for the masked ones [V:S2]): a conv contributes 2·nnz(W)·H_out·W_out (a multiply and an add per surviving
weight; only surviving weights count under an unstructured mask) plus one add per output for its bias; a linear
layer 2·nnz(W) (+ bias); BatchNorm2d 2 ops per element; ReLU one; pooling k² per output element (adaptive
pooling: one per input element). A filter whose every weight is masked is gone, as in the compact network their
structured counter measures: the BatchNorm, ReLU and pooling work on its channel is not counted until the next
layer mixes channels. ``macs`` is the plain conv+linear multiply-accumulate count (nnz·H·W), which
``prunelab.plan.resources`` sizes jobs by.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from prunelab.training.masks import Mask


def _kept(module: nn.Module, mask: Mask | None, names: dict[int, str]) -> tuple[int, int]:
    """Surviving weights and surviving output units (rows with a weight left) of a conv or linear layer."""
    name = names.get(id(module.weight))
    if mask is not None and name in mask:
        m = mask[name]
        return int(m.sum()), int(m.reshape(m.shape[0], -1).any(1).sum())
    return module.weight.numel(), module.weight.shape[0]


@torch.no_grad()
def count(model: nn.Module, input_shape: tuple[int, ...], mask: Mask | None = None) -> dict:
    """``{"macs", "ops", "params", "params_total"}`` for one example of ``input_shape``."""
    names = {id(p): n for n, p in model.named_parameters()}
    totals = {"macs": 0, "ops": 0}
    live: dict[int, tuple[torch.Tensor, int]] = {}  # id → (feature map, channels still computed), for removed filters

    def channels(t: torch.Tensor) -> int:
        entry = live.get(id(t))
        return entry[1] if entry is not None and entry[0] is t else t.shape[1]

    def carry(output: torch.Tensor, kept: int) -> None:
        if output.dim() == 4 and kept < output.shape[1]:
            live[id(output)] = (output, kept)

    def hook(module, inputs, output):
        x = inputs[0]
        if isinstance(module, nn.Conv2d):
            weights, units = _kept(module, mask, names)
            spatial = output.shape[-2] * output.shape[-1]
            totals["macs"] += weights * spatial
            totals["ops"] += 2 * weights * spatial + (output[0].numel() if module.bias is not None else 0)
            carry(output, units)
        elif isinstance(module, nn.Linear):
            weights, _ = _kept(module, mask, names)
            totals["macs"] += weights
            totals["ops"] += 2 * weights + (module.out_features if module.bias is not None else 0)
        elif x.dim() == 4 and isinstance(module, (nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d)):
            kept = channels(x)
            per_channel = output[0, 0].numel()
            if isinstance(module, nn.BatchNorm2d):
                totals["ops"] += 2 * kept * per_channel
            elif isinstance(module, nn.ReLU):
                totals["ops"] += kept * per_channel
            else:
                size = module.kernel_size
                totals["ops"] += (size * size if isinstance(size, int) else math.prod(size)) * kept * per_channel
            carry(output, kept)
        elif isinstance(module, (nn.ReLU, nn.Tanh)):
            totals["ops"] += output[0].numel() if output.dim() > 1 else output.numel()
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            totals["ops"] += channels(x) * x[0, 0].numel()

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
    return {"macs": totals["macs"], "ops": totals["ops"], "params": params_total - pruned, "params_total": params_total}
