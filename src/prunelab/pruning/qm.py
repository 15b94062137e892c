"""QM, the quadratic loss model of Laurent et al. (docs/methods.md §2.5).

Pruning q is the step Δθ = −θ_q e_q; with the diagonal GGN h standing in for the Hessian, the second-order
predicted loss change is −g_qθ_q + ½h_qθ_q², separable per weight. Score (lower = prune first):

    |−g_q θ_q + ½ h_q θ_q²| + ½ λ θ_q²

g is the mean gradient and h the exact GGN diagonal, both on the current masked network in eval mode. With
g = 0 this is OBD. λ ≥ 0 penalises the step length; multi-step pruning re-scores after every step.
"""

from __future__ import annotations

import torch

from prunelab.pruning.base import PruneContext
from prunelab.pruning.curvature import FlatModel, ggn_diagonal, mean_gradient


def criterion(theta: torch.Tensor, g: torch.Tensor, h: torch.Tensor, lam: float) -> torch.Tensor:
    """|−gθ + ½hθ²| + ½λθ²."""
    return (-g * theta + 0.5 * h * theta.pow(2)).abs() + 0.5 * lam * theta.pow(2)


def score(ctx: PruneContext, **hparams) -> dict:
    fm = FlatModel.from_context(ctx)
    g, h = mean_gradient(fm, ctx.batches), ggn_diagonal(fm, ctx.batches)
    return fm.as_dict(criterion(fm.theta.double(), g, h, hparams["lambda"]))
