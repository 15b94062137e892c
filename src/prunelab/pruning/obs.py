"""Exact Optimal Brain Surgeon (Hassibi & Stork 1992) for tiny networks (docs/methods.md §2.6).

Builds the dense float64 curvature H over all prunable weights (the GGN, default, or the Hessian of the
mean scoring loss), damps it (H + damp·I, damp absolute, in loss units), inverts it restricted to the
weights that are still alive, and removes weights with the OBS compensation of the survivors:

- ``greedy`` (default, classic OBS): one weight at a time, each time the survivor with the lowest
  ΔL_q = θ_q²/(2[H⁻¹]_qq); apply δθ = −(θ_q/[H⁻¹]_qq)H⁻¹e_q, set θ_q = 0 and downdate H⁻¹, which then
  is the inverse of H restricted to the survivors. Layer-wise scope gives each tensor its own quota.
- ``joint``: rank once by ΔL_q with the shared selector, then apply the joint update of the whole removed
  set, δθ = −H⁻¹E_Qᵀ(E_QH⁻¹E_Qᵀ)⁻¹θ_Q (the exact minimiser of the quadratic model under θ_Q = 0).
- ``independent``: rank once, apply the sum of the single-weight updates.
- ``none``: rank once, no update (OBS saliency as a pure ranking).

Score convention: ΔL_q ≥ 0, prune the lowest. Counts are exact (⌊s·N+½⌋, or per tensor); entries pruned
earlier stay pruned and are outside H⁻¹. The method returns the mask and the updated surviving weights.
Refused above ``curvature.MAX_DENSE`` prunable weights: use woodfisher, lobs or obd there.
"""

from __future__ import annotations

import torch

from prunelab.errors import ConfigError
from prunelab.pruning.base import PruneContext
from prunelab.pruning.curvature import MAX_DENSE, FlatModel, ggn_matrix, hessian_matrix
from prunelab.pruning.kkt import greedy_removal, independent_update, joint_update_vector, restricted_inverse, saliency
from prunelab.pruning.select import prune_count, select
from prunelab.training.masks import Mask


def _quotas(fm: FlatModel, alive: torch.Tensor, sparsity: float, scope: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-weight group ids and, per group, how many more weights greedy OBS must remove."""
    sizes = torch.tensor(fm.sizes)
    if scope == "global":
        group = torch.zeros(fm.size, dtype=torch.long)
        totals = sizes.sum().unsqueeze(0)
    elif scope == "layerwise":
        group = torch.repeat_interleave(torch.arange(len(fm.sizes)), sizes)
        totals = sizes
    else:
        raise ConfigError(f"scope={scope!r} is unknown (allowed: global, layerwise)")
    dead = torch.zeros(len(totals), dtype=torch.long).index_add_(0, group, (~alive.cpu()).long())
    quota = torch.tensor([prune_count(sparsity, int(t)) for t in totals]) - dead
    if bool((quota < 0).any()):
        raise ConfigError(
            f"sparsity={sparsity} is below what the parent mask already prunes; masks are nested, "
            f"so sparsity can only grow"
        )
    return group.to(alive.device), quota.to(alive.device)


def prune(ctx: PruneContext, **hparams) -> tuple[Mask, dict | None]:
    fm = FlatModel.from_context(ctx)
    if fm.size > MAX_DENSE:
        raise ConfigError(
            f"method 'obs': {fm.size} prunable weights exceed the {MAX_DENSE} for which exact OBS "
            f"builds a dense curvature; use woodfisher (block-diagonal Fisher), lobs (layer-wise) "
            f"or obd (diagonal), or exclude layers with prune.exclude"
        )
    build = ggn_matrix if hparams["curvature"] == "ggn" else hessian_matrix
    h = build(fm, ctx.batches)
    h += hparams["damp"] * torch.eye(fm.size, dtype=h.dtype, device=h.device)
    theta = fm.theta.double()
    alive = fm.flatten(ctx.mask).to(theta.device)
    h_inv = restricted_inverse(h, alive, "method 'obs'")
    if hparams["update"] == "greedy":
        group, quota = _quotas(fm, alive, ctx.sparsity, ctx.scope)
        theta, alive = greedy_removal(h_inv, theta, alive, group, quota)
        mask = Mask(fm.as_dict(alive))
    else:
        mask = select(fm.as_dict(saliency(torch.diagonal(h_inv), theta)), ctx.sparsity, ctx.scope, ctx.mask)
        if hparams["update"] == "none":
            return mask, None
        kept = fm.flatten(mask)
        removed = alive & ~kept
        if hparams["update"] == "joint":
            theta = theta + joint_update_vector(h, h_inv, theta, removed, kept)
        else:
            theta = theta + independent_update(h_inv, theta, removed)
        theta = torch.where(kept, theta, torch.zeros_like(theta))
    return mask, fm.as_dict(theta.to(fm.theta.dtype))
