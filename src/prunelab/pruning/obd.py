"""Optimal Brain Damage (LeCun et al. 1989) with a choice of curvature diagonal (docs/methods.md §2.4, §2.5).

At a minimum the gradient vanishes, so a second-order Taylor model with a diagonal curvature h predicts the
loss increase of zeroing weight q as ½h_qθ_q². Score (lower = prune first):

    |½ h_q θ_q²| + ½ λ θ_q²

The absolute value matters only for the Hessian diagonal, which can be negative away from a minimum; ranking
it by |½hθ²| is prunelab's choice. Laurent et al. never use a Hessian diagonal: their abs() wraps their whole
criterion, which with g set to 0 and the GGN diagonal (≥ 0) is this one. λ ≥ 0 is Laurent et al.'s locality
penalty, the cost ½λθ_q² of the pruning step's length; λ = 0 is plain OBD.

Curvature (hparam ``curvature``): ``ggn`` (exact Gauss–Newton diagonal, default, as in Laurent et al.),
``empirical_fisher`` (observed labels), ``mc_fisher`` (``samples`` labels per example drawn from the model
with the pruning seed), ``hessian`` (exact, tiny nets) or ``hutchinson`` (``samples`` Rademacher probes,
seeded). All on the current masked network, eval mode, with the scoring batches.
"""

from __future__ import annotations

import torch

from prunelab.pruning.base import PruneContext
from prunelab.pruning.curvature import FlatModel, curvature_diagonal


def criterion(theta: torch.Tensor, h: torch.Tensor, lam: float) -> torch.Tensor:
    """|½hθ²| + ½λθ²."""
    return (0.5 * h * theta.pow(2)).abs() + 0.5 * lam * theta.pow(2)


def score(ctx: PruneContext, **hparams) -> dict:
    fm = FlatModel.from_context(ctx)
    h = curvature_diagonal(hparams["curvature"], fm, ctx.batches, ctx.generator, hparams["samples"])
    return fm.as_dict(criterion(fm.theta.double(), h, hparams["lambda"]))
