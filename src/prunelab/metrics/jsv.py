"""Jacobian singular values of the input→logits map: Wang et al.'s measure of dynamical isometry.

docs/methods.md §2.10. For each example x, J(x) = ∂z/∂x ∈ R^{C×D} (logits by the flattened input), computed
with ``torch.func.jacrev`` vectorised over the batch by ``vmap``, on an eval-mode copy of the model so
BatchNorm uses its running statistics and the caller's model is untouched. Its C singular values per
example are pooled over all given batches. For a linear MLP J = W_L⋯W_1 for every x, which the tests use.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap


def jacobian_singular_values(model: nn.Module, batches) -> torch.Tensor:
    """(examples, C) singular values of ∂logits/∂input, one row per example of ``batches`` ((x, y) pairs)."""
    work = copy.deepcopy(model).eval()
    state = {**{n: p.detach() for n, p in work.named_parameters()}, **dict(work.named_buffers())}

    def logits(x: torch.Tensor) -> torch.Tensor:
        return functional_call(work, state, (x.unsqueeze(0),)).squeeze(0)

    per_example = vmap(jacrev(logits))
    rows = []
    for x, *_ in batches:
        jac = per_example(x)
        rows.append(torch.linalg.svdvals(jac.reshape(jac.shape[0], jac.shape[1], -1)))
    return torch.cat(rows)


def summarize(values: torch.Tensor) -> dict:
    """Mean, std (population), max and min of all singular values, and the mean per-example σ_max/σ_min."""
    v = values.double()
    condition = v.max(1).values / v.min(1).values
    return {
        "jsv_mean": float(v.mean()),
        "jsv_std": float(v.std(correction=0)),
        "jsv_max": float(v.max()),
        "jsv_min": float(v.min()),
        "jsv_condition_mean": float(condition.mean()),
    }


def measure(model: nn.Module, batches) -> dict:
    """The JSV summary a prune job records right after pruning (Wang et al.'s plots use ``jsv_mean``)."""
    return summarize(jacobian_singular_values(model, batches))
