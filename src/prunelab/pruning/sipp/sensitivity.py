"""SiPP's empirical sensitivities ŝ and the set S they are measured on (Baykal, Liebenwein et al.).

docs/methods.md §2.9. For a layer with weight W (rows = output neurons or filters) and non-negative inputs a,
split W by sign; each weight's share of its neuron's same-signed pre-activation,

    g_ij(x) = W_ij a_j(x) / z_i^{sign(W_ij)}(x),   z_i^±(x) = Σ_k W^±_ik a_k(x)  (bias excluded),

lies in [0, 1] (0 where |z| ≤ float32 eps). ŝ_ij = max over the points of S. Inputs with negative entries
become two points a⁺ = max(a, 0) and a⁻ = max(−a, 0); we always split, since an all-zero a⁻ only adds
g = 0 and cannot change a maximum. Conv layers work on unfolded input patches and reduce over patches by
max (the rand/hybrid trackers) or mean (the deterministic tracker), then take the max over points.

|S| = ⌈C·ln(8ηη*/δ)⌉ with η the summed and η* the largest per-example output count of the layers; S is drawn
from the validation split (at most half of it; the training split when there is no validation split) with the
pruning generator, once per step (the propagation step after pruning reuses it), and the network sees it in
chunks while ŝ is accumulated one example at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prunelab.data.tensors import TensorData
from prunelab.errors import PrunelabError
from prunelab.pruning.base import PruneContext
from prunelab.pruning.scoring_copy import require_data

EPS = float(np.finfo(np.float32).eps)
FORWARD_CHUNK = 64  # examples per forward pass while recording layer inputs
MAX_PRODUCT_ELEMENTS = 2**24  # bound on the (rows × inputs × patches) tensor of the max-over-patches reduction


@dataclass(frozen=True)
class LayerShape:
    """What SiPP's constants need from a layer: neurons n_l, patches P_l, kernel numel κ_l, output count η_l."""

    neurons: int
    patches: int
    kernel: int
    outputs: int


def _side_inverse(z: torch.Tensor) -> torch.Tensor:
    """1/z where z > eps, else 0 (z is a same-signed pre-activation made non-negative)."""
    return torch.where(z > EPS, 1.0 / z.clamp_min(EPS), torch.zeros_like(z))


def point_sensitivity(weight: torch.Tensor, patches: torch.Tensor, reduce: str) -> torch.Tensor:
    """g for one non-negative point: ``weight`` (rows, K), ``patches`` (K, P) → (rows, K), reduced over P."""
    inv_pos = _side_inverse(weight.clamp_min(0) @ patches)  # (rows, P): 1/z⁺
    inv_neg = _side_inverse(-(weight.clamp_max(0) @ patches))  # (rows, P): 1/|z⁻|
    if reduce == "mean":
        share_pos = inv_pos @ patches.T / patches.shape[1]
        share_neg = inv_neg @ patches.T / patches.shape[1]
    elif reduce == "max":
        share_pos, share_neg = _max_product(inv_pos, patches), _max_product(inv_neg, patches)
    else:
        raise ValueError(f"reduce={reduce!r} (allowed: max, mean)")
    # A term over a sum of same-signed terms that includes it: ≤ 1 exactly; clamp the last-ulp rounding.
    return (weight.abs() * torch.where(weight > 0, share_pos, share_neg)).clamp_max(1.0)


def _max_product(inv: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    """max_p inv[i, p] · patches[k, p] for every (i, k), in row chunks that bound memory."""
    rows, (k, p) = inv.shape[0], patches.shape
    step = max(1, MAX_PRODUCT_ELEMENTS // max(1, k * p))
    return torch.cat([(inv[i : i + step, None, :] * patches[None]).amax(-1) for i in range(0, rows, step)])


def layer_points(inputs: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """One example's layer input as patches (K, P): the input vector for Linear, unfolded patches for Conv."""
    if isinstance(module, nn.Linear):
        return inputs.reshape(-1, 1)
    return F.unfold(
        inputs.unsqueeze(0), module.kernel_size, dilation=module.dilation, padding=module.padding, stride=module.stride
    )[0]


def example_sensitivity(weight: torch.Tensor, patches: torch.Tensor, reduce: str) -> torch.Tensor:
    """max over the two points a⁺, a⁻ of one example (an all-zero point contributes nothing)."""
    out = torch.zeros_like(weight)
    for point in (patches.clamp_min(0), (-patches).clamp_min(0)):
        if bool((point > 0).any()):
            out = torch.maximum(out, point_sensitivity(weight, point, reduce))
    return out


def _check_supported(name: str, module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d) and (module.groups != 1 or module.padding_mode != "zeros"):
        raise PrunelabError(
            f"SiPP supports plain convolutions only; {name} has groups={module.groups}, "
            f"padding_mode={module.padding_mode!r}"
        )


def prunable_modules(model: nn.Module, names: list[str]) -> dict[str, nn.Module]:
    """The Conv2d/Linear module owning each prunable weight, by weight name."""
    owner = {id(m.weight): m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    params = dict(model.named_parameters())
    modules = {name: owner[id(params[name])] for name in names}
    for name, module in modules.items():
        _check_supported(name, module)
    return modules


def layer_shapes(
    model: nn.Module, modules: dict[str, nn.Module], input_shape: tuple[int, ...]
) -> dict[str, LayerShape]:
    """Per-example output counts and patch counts from one probe forward pass in eval mode."""
    shapes: dict[str, LayerShape] = {}

    def record(name):
        def hook(module, inputs, output):
            per_example = output.shape[1:]
            patches = math.prod(per_example[1:]) if isinstance(module, nn.Conv2d) else 1
            kernel = math.prod(module.kernel_size) if isinstance(module, nn.Conv2d) else 1
            shapes[name] = LayerShape(
                neurons=module.weight.shape[0], patches=patches, kernel=kernel, outputs=math.prod(per_example)
            )

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in modules.items()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            p = next(model.parameters())
            model(torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    missing = [n for n in modules if n not in shapes]
    if missing:
        raise PrunelabError(f"SiPP: layers {missing} are not reached by the forward pass")
    return shapes


def sample_set_size(output_counts: list[int], c_constant: float, delta_failure: float) -> int:
    """|S| = ⌈C·ln(8ηη*/δ)⌉ with η = Σ output counts and η* = max output count."""
    eta, eta_star = sum(output_counts), max(output_counts)
    return math.ceil(c_constant * math.log(8.0 * eta * eta_star / delta_failure))


def draw_sample_set(data: TensorData, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` examples and their labels (at most half of the pool) from the validation split, else from the
    training split."""
    pool_x, pool_y = (data.val_x, data.val_y) if len(data.val_y) else (data.train_x, data.train_y)
    count = min(size, max(1, len(pool_x) // 2))
    idx = torch.randperm(len(pool_x), generator=generator)[:count].to(pool_x.device)
    return pool_x.index_select(0, idx), pool_y.index_select(0, idx)


def sample_set(
    ctx: PruneContext, model: nn.Module, c_constant: float, delta_failure: float, method: str
) -> tuple[tuple[torch.Tensor, torch.Tensor], dict[str, LayerShape]]:
    """This step's S (drawn once with the pruning generator, then kept on ``ctx``) and the layer shapes of
    ``model`` (a copy of ``ctx.model``) that size it and SiPP's constants.

    torchprune hands one loader of S to the sensitivities and to the propagation after pruning, so both see
    the same points; ``ctx.sample_set`` is that sharing. The inputs have the prunable weights' dtype."""
    modules = prunable_modules(model, list(ctx.params))
    data = require_data(ctx, method)
    shapes = layer_shapes(model, modules, data.input_shape)
    if ctx.sample_set is None:
        size = sample_set_size([s.outputs for s in shapes.values()], c_constant, delta_failure)
        x, y = draw_sample_set(data, size, ctx.generator)
        ctx.sample_set = (x.to(next(iter(ctx.params.values())).dtype), y)
    return ctx.sample_set, shapes


def empirical_sensitivity(
    model: nn.Module, modules: dict[str, nn.Module], inputs: torch.Tensor, reduce: str
) -> dict[str, torch.Tensor]:
    """ŝ per weight (same shape as each weight) as the max over ``inputs`` and their a⁺/a⁻ points."""
    recorded: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_pre_hook(lambda mod, args, n=n: recorded.__setitem__(n, args[0].detach()))
        for n, m in modules.items()
    ]
    sens = {
        n: torch.zeros(m.weight.shape[0], m.weight[0].numel(), dtype=m.weight.dtype, device=m.weight.device)
        for n, m in modules.items()
    }
    try:
        with torch.no_grad():
            for chunk in torch.tensor_split(inputs, max(1, math.ceil(len(inputs) / FORWARD_CHUNK))):
                model(chunk)
                for name, module in modules.items():
                    weight = module.weight.detach().reshape(module.weight.shape[0], -1)
                    for example in recorded[name]:
                        patches = layer_points(example, module)
                        sens[name] = torch.maximum(sens[name], example_sensitivity(weight, patches, reduce))
    finally:
        for h in handles:
            h.remove()
    return {n: s.view_as(modules[n].weight) for n, s in sens.items()}
