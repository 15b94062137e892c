"""LM, the linear loss model of Laurent et al. (docs/methods.md §2.5).

Pruning q is the step Δθ = −θ_q e_q, whose first-order predicted loss change is −g_qθ_q, with g the mean
gradient of the scoring loss on the current masked network (eval mode). Score (lower = prune first):

    |−g_q θ_q| + ½ λ θ_q²

The absolute value (Laurent et al.'s code) treats predicted decreases like increases: both leave the region
where the model is trusted. λ ≥ 0 penalises the step length. Multi-step pruning (T > 1) re-scores after
each step through :func:`prunelab.pruning.multistep.run_method`.
"""

from __future__ import annotations

import torch

from prunelab.pruning.base import PruneContext
from prunelab.pruning.curvature import FlatModel, mean_gradient


def criterion(theta: torch.Tensor, g: torch.Tensor, lam: float) -> torch.Tensor:
    """|−gθ| + ½λθ²."""
    return (-g * theta).abs() + 0.5 * lam * theta.pow(2)


def score(ctx: PruneContext, **hparams) -> dict:
    fm = FlatModel.from_context(ctx)
    return fm.as_dict(criterion(fm.theta.double(), mean_gradient(fm, ctx.batches), hparams["lambda"]))
