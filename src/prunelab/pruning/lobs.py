"""Layer-wise OBS (Dong, Chen & Pan 2017) (docs/methods.md §2.6).

Each layer is pruned to preserve its own output. For a layer with flattened weight W (rows = output units
or channels, columns = inputs or unfolded patch entries) and inputs x collected on the current network,
the reconstruction error E(Ŵ) = (1/2n) Σ ‖(W − Ŵ)x‖² is exactly quadratic with Hessian, per row,
Ψ = (1/n) Σ x xᵀ (shared by all rows). OBS therefore applies row by row, exactly:

- score (lower = prune first): the error increase w_ij²/(2[Ψ⁻¹]_jj) of removing W_ij with its row
  compensated;
- update (``joint``, default): each row's exact minimiser of E with all its pruned entries held at 0,
  δw_i = −Ψ⁻¹E_Qᵀ(E_QΨ⁻¹E_Qᵀ)⁻¹w_iQ; ``independent`` sums single-weight updates; ``none`` only masks.

Ψ is damped relative to its scale, Ψ + damp·mean(diag Ψ)·I (``damp`` default 1e-4), and inverted directly
through its Cholesky factor (the layer input dimension is at most a few thousand). Scope, nesting and
exact counts come from the shared selector; biases are not prunable and are left as they are.
"""

from __future__ import annotations

import torch

from prunelab.errors import PrunelabError
from prunelab.progress import tick
from prunelab.pruning.base import PruneContext
from prunelab.pruning.curvature import layer_input_moments
from prunelab.pruning.kkt import independent_update, joint_update_vector, saliency
from prunelab.pruning.select import select
from prunelab.training.masks import Mask


def damped(psi: torch.Tensor, damp: float, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Ψ + damp·mean(diag Ψ)·I and its inverse; an all-zero Ψ (dead inputs) is damped with scale 1."""
    scale = float(psi.diagonal().mean())
    psi = psi + damp * (scale if scale > 0 else 1.0) * torch.eye(psi.shape[0], dtype=psi.dtype, device=psi.device)
    factor, info = torch.linalg.cholesky_ex(psi)
    if int(info) != 0:
        raise PrunelabError(
            f"method 'lobs': the input second moment of {name} is singular; raise hparams.damp above {damp}"
        )
    return psi, torch.cholesky_inverse(factor)


def prune(ctx: PruneContext, **hparams) -> tuple[Mask, dict | None]:
    moments = layer_input_moments(ctx.model, list(ctx.params), ctx.batches, at_init=ctx.at_init)
    psis, inverses, rows, scores = {}, {}, {}, {}
    for name, param in ctx.params.items():
        psis[name], inverses[name] = damped(moments[name], hparams["damp"], name)
        rows[name] = param.detach().double().reshape(param.shape[0], -1)
        scores[name] = saliency(torch.diagonal(inverses[name]).expand_as(rows[name]), rows[name]).view(param.shape)
    mask = select(scores, ctx.sparsity, ctx.scope, ctx.mask)
    if hparams["update"] == "none":
        return mask, None
    updates = {}
    for name, param in ctx.params.items():
        tick(lambda: f"L-OBS: updating {name}")
        w, inv = rows[name], inverses[name]
        kept = mask[name].reshape(w.shape).to(w.device)
        if hparams["update"] == "joint":
            new = w + torch.stack(
                [joint_update_vector(psis[name], inv, w[i], ~kept[i], kept[i]) for i in range(w.shape[0])]
            )
        else:
            new = w + independent_update(inv, w, ~kept)
        new = torch.where(kept, new, torch.zeros_like(new))
        updates[name] = new.view(param.shape).to(param.dtype)
    return mask, updates
