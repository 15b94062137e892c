"""GraSP (Wang, Zhang & Grosse 2020): keep the weights whose removal least reduces the gradient flow.

docs/methods.md §2.8, following the authors' code: on a deep copy, optionally re-initialise every ``Linear``
weight Xavier-normal (``reinit``, default on as in their code; the mask still applies to the original net),
draw ``samples_per_class`` training examples per class, split them into two halves, and with logits
divided by the temperature T compute

    g  = Σ_halves ∇_θ L(half)                  (detached)
    Hg = Σ_halves ∇_θ (gᵀ ∇_θ L(half))          (double backward through a graph-building first derivative)

over the prunable weights only (biases and BatchNorm are constants, as in the authors' code). GraSP removes
the entries with the **largest** −θ⊙Hg, normalised by |Σ −θ⊙Hg| + 1e-10. Our selector removes the lowest
score, so the score returned is +θ⊙Hg / (|Σ −θ⊙Hg| + 1e-10): the same entries, and exactly K of them
(the authors' ``≤`` threshold removes one fewer).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from prunelab.data.tensors import TensorData
from prunelab.pruning.base import PruneContext
from prunelab.pruning.scoring_copy import require_data, scoring_copy
from prunelab.training.masks import Mask


def class_balanced_sample(
    data: TensorData, per_class: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``per_class`` training examples of every class, in a random order from ``generator``.

    The examples are grouped by class (class 0 first), as the authors' collection loop concatenates them,
    so the two halves GraSP splits them into hold different classes.
    """
    order = torch.randperm(len(data.train_y), generator=generator)
    labels = data.train_y.cpu()[order]
    chosen = [order[labels == c][:per_class] for c in range(data.num_classes)]
    idx = torch.cat(chosen).to(data.train_x.device)
    return data.train_x.index_select(0, idx), data.train_y.index_select(0, idx)


def halves(x: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    n = len(y) // 2
    return [(xb, yb) for xb, yb in ((x[:n], y[:n]), (x[n:], y[n:])) if len(yb)]


def xavier_normal_linear_(
    model: nn.Module, generator: torch.Generator, mask: Mask | None = None, names: dict[int, str] | None = None
) -> None:
    """Re-draw every ``Linear`` weight from N(0, 2/(fan_in+fan_out)) on the CPU (device-independent draws),
    then zero the entries ``mask`` already prunes so the scored net is θ ⊙ m."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                w = module.weight
                std = math.sqrt(2.0 / (w.shape[0] + w.shape[1]))
                fresh = torch.randn(w.shape, generator=generator, dtype=torch.float64) * std
                w.copy_(fresh.to(device=w.device, dtype=w.dtype))
                name = (names or {}).get(id(w))
                if mask is not None and name is not None:
                    mask.apply_({name: w})


def hessian_gradient_product(
    model: nn.Module, params: dict[str, torch.Tensor], parts: list, temperature: float
) -> tuple[dict, dict]:
    """(g, Hg) over ``params`` for the loss Σ_parts CE(f(x)/T, y), by double backward."""
    names = list(params)
    weights = [params[n] for n in names]

    def loss(x, y):
        return F.cross_entropy(model(x) / temperature, y)

    g = [torch.zeros_like(w) for w in weights]
    for x, y in parts:
        for acc, gi in zip(g, torch.autograd.grad(loss(x, y), weights)):
            acc.add_(gi)
    hg = [torch.zeros_like(w) for w in weights]
    for x, y in parts:
        first = torch.autograd.grad(loss(x, y), weights, create_graph=True)
        inner = sum((fi * gi).sum() for fi, gi in zip(first, g))
        for acc, hi in zip(hg, torch.autograd.grad(inner, weights)):
            acc.add_(hi)
    return dict(zip(names, g)), dict(zip(names, hg))


def score(ctx: PruneContext, temperature: float, samples_per_class: int, reinit: bool) -> dict:
    data = require_data(ctx, "grasp")
    model, params = scoring_copy(ctx)
    x, y = class_balanced_sample(data, samples_per_class, ctx.generator)
    x = x.to(next(iter(params.values())).dtype)
    if reinit:
        xavier_normal_linear_(model, ctx.generator, ctx.mask, {id(p): n for n, p in params.items()})
    _, hg = hessian_gradient_product(model, params, halves(x, y), temperature)
    theta_hg = {n: params[n].detach() * hg[n] for n in params}
    scale = abs(sum(float(-t.sum()) for t in theta_hg.values())) + 1e-10
    return {n: t / scale for n, t in theta_hg.items()}
