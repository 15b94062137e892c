"""Optimal Brain Surgeon linear algebra shared by exact OBS, L-OBS and WoodFisher (docs/methods.md §2.6).

With a quadratic model ΔL(δ) = ½δᵀHδ around weights θ (gradient assumed zero), removing a set Q of weights
means minimising ½δᵀHδ subject to θ_Q + δ_Q = 0. Its solution, from the KKT conditions, is

    δ = −H⁻¹E_Qᵀ (E_Q H⁻¹ E_Qᵀ)⁻¹ θ_Q,        ΔL = ½ θ_Qᵀ (E_Q H⁻¹ E_Qᵀ)⁻¹ θ_Q,

which for one weight q is δ = −(θ_q/[H⁻¹]_qq) H⁻¹e_q and ΔL = θ_q²/(2[H⁻¹]_qq). :func:`joint_update`
solves it for many small problems in one batched call (WoodFisher's blocks, which only have H⁻¹);
:func:`joint_update_vector` solves one larger problem through whichever of the removed or the surviving
weights is fewer (exact OBS, and L-OBS row by row, which have both H and H⁻¹).

All linear solves go through Cholesky factors: every system here is symmetric positive definite, and
batched ``torch.linalg.solve`` (LU) on CPU fails with MKL "DLASWP" errors for matrices of a few hundred
rows in torch 2.14.1.

No module-level ``METHOD``: this is a helper module of the OBS family, not a pruning method.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from prunelab.errors import PrunelabError
from prunelab.progress import tick


def spd_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a⁻¹b for symmetric positive definite a (batched), through its Cholesky factor."""
    return torch.cholesky_solve(b, torch.linalg.cholesky(a))


def saliency(inverse_diagonal: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """ΔL_q = θ_q² / (2[H⁻¹]_qq), the loss increase of removing q alone with the optimal compensation.

    Entries whose inverse diagonal is 0 (already removed from H⁻¹ by a downdate) get ΔL = 0; their θ is 0.
    """
    safe = torch.where(inverse_diagonal > 0, inverse_diagonal, torch.ones_like(inverse_diagonal))
    return torch.where(inverse_diagonal > 0, theta.pow(2) / (2 * safe), torch.zeros_like(theta))


def single_update(h_inv: torch.Tensor, theta: torch.Tensor, q: int) -> torch.Tensor:
    """δθ = −(θ_q/[H⁻¹]_qq) H⁻¹e_q for removing the single weight q (θ a vector, H⁻¹ a matrix)."""
    return -(theta[q] / h_inv[q, q]) * h_inv[:, q]


def joint_update(h_inv: torch.Tensor, theta: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """δθ = −H⁻¹E_Qᵀ(E_Q H⁻¹ E_Qᵀ)⁻¹θ_Q for Q = ``removed`` (bool, like θ), batched over leading dims.

    Per batch entry the system restricted to Q is embedded in a full one, S = D H⁻¹ D + (I − D) with
    D = diag(1_Q): solving S z = 1_Q ⊙ θ gives z_Q = (E_Q H⁻¹ E_Qᵀ)⁻¹θ_Q and z = 0 off Q, so every entry
    can have its own Q while the solve stays one batched call. ``h_inv`` may be shared (2-D) or batched.
    """
    q = removed.to(theta.dtype)
    system = q.unsqueeze(-1) * h_inv * q.unsqueeze(-2) + torch.diag_embed(1 - q)
    z = spd_solve(system, (q * theta).unsqueeze(-1))
    return -(h_inv @ z).squeeze(-1)


def joint_update_vector(
    h: torch.Tensor, h_inv: torch.Tensor, theta: torch.Tensor, removed: torch.Tensor, kept: torch.Tensor
) -> torch.Tensor:
    """The joint update for one vector θ, through the smaller of two equivalent exact systems.

    Minimise ½δᵀHδ subject to θ_Q + δ_Q = 0 (Q = ``removed``), with δ free on S = ``kept`` and 0 elsewhere;
    ``h_inv`` is the inverse of H restricted to S ∪ Q. If |Q| ≤ |S|: δ = −H⁻¹E_Qᵀ(E_QH⁻¹E_Qᵀ)⁻¹θ_Q;
    otherwise the survivors' normal equations H_SSδ_S = H_SQθ_Q with δ_Q = −θ_Q. The cost is
    min(|Q|, |S|)³ instead of the (|S|+|Q|)³ of the batched embedding in :func:`joint_update`.
    """
    q_idx, s_idx = removed.nonzero().squeeze(-1), kept.nonzero().squeeze(-1)
    delta = torch.zeros_like(theta)
    if len(q_idx) == 0:
        return delta
    if len(q_idx) <= len(s_idx):
        z = spd_solve(h_inv[q_idx][:, q_idx], theta[q_idx].unsqueeze(-1))
        return -(h_inv[:, q_idx] @ z).squeeze(-1)
    if len(s_idx):
        delta[s_idx] = spd_solve(h[s_idx][:, s_idx], h[s_idx][:, q_idx] @ theta[q_idx].unsqueeze(-1)).squeeze(-1)
    delta[q_idx] = -theta[q_idx]
    return delta


def independent_update(h_inv: torch.Tensor, theta: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """Σ_{q∈Q} of the single-weight updates −(θ_q/[H⁻¹]_qq)H⁻¹e_q, each computed as if q were removed alone
    (WoodFisher's cheaper alternative to the joint update), batched over leading dims."""
    diag = torch.diagonal(h_inv, dim1=-2, dim2=-1)
    coefficients = torch.where(removed, theta / diag, torch.zeros_like(theta))
    return -(h_inv @ coefficients.unsqueeze(-1)).squeeze(-1)


def downdate_(h_inv: torch.Tensor, q: int) -> torch.Tensor:
    """In place: H⁻¹ ← H⁻¹ − H⁻¹e_q e_qᵀH⁻¹/[H⁻¹]_qq, the inverse of H restricted to the other weights
    (row and column q become 0). Returns ``h_inv``."""
    column = h_inv[:, q].clone()
    h_inv.addr_(column, column, alpha=-1 / float(column[q]))
    h_inv[q, :] = 0.0  # exactly, not up to rounding
    h_inv[:, q] = 0.0
    return h_inv


def restricted_inverse(h: torch.Tensor, keep: torch.Tensor, what: str) -> torch.Tensor:
    """The inverse of H restricted to ``keep`` (bool vector), embedded in a zero P×P matrix.

    Raises a one-line error when the restriction is not positive definite (indefinite Hessian or too little
    damping), since OBS saliencies are then meaningless.
    """
    idx = keep.nonzero().squeeze(-1)
    sub = h[idx][:, idx]
    factor, info = torch.linalg.cholesky_ex(sub)
    if int(info) != 0:
        raise PrunelabError(
            f"{what}: the damped curvature restricted to the surviving weights is not positive "
            f"definite; raise the damp hyperparameter or use curvature: ggn"
        )
    out = torch.zeros_like(h)
    out[idx.unsqueeze(-1), idx] = torch.cholesky_inverse(factor)
    return out


def greedy_removal(
    h_inv: torch.Tensor, theta: torch.Tensor, alive: torch.Tensor, group: torch.Tensor, quota: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classic OBS: remove weights one at a time, each time the surviving q with the lowest ΔL_q.

    ``h_inv`` is the inverse restricted to the ``alive`` weights. After each removal the compensating update
    is applied, θ_q is set to exactly 0 and H⁻¹ is downdated, so the next saliencies are those of the
    smaller problem. ``group[q]`` names q's tensor and ``quota[g]`` how many more weights tensor g must
    lose (one group holding everything is global scope). Ties go to the lower flat index. Returns the
    updated θ and the new alive mask.
    """
    h_inv, theta, alive, quota = h_inv.clone(), theta.clone(), alive.clone(), quota.clone()
    total = int(quota.sum())
    for removed in range(total):
        tick(lambda: f"OBS: removed {removed}/{total} weights one at a time")
        candidates = alive & (quota[group] > 0)
        scores = saliency(torch.diagonal(h_inv), theta)
        scores = torch.where(candidates, scores, torch.full_like(scores, float("inf")))
        q = int(torch.argmin(scores))
        theta += single_update(h_inv, theta, q)
        theta[q] = 0.0
        downdate_(h_inv, q)
        alive[q] = False
        quota[group[q]] -= 1
    return theta, alive


def accumulated_inverse(
    gradients: Iterable[torch.Tensor],
    count: int,
    damp: float,
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(λI + (1/N) Σ_n g_n g_nᵀ)⁻¹ by summing the outer products, then one Cholesky inverse per block.

    The same matrix as :func:`woodbury_inverse` (tested equal), for when there are at least as many
    gradients as block entries: accumulating costs B² per gradient and block (half the recursion's 2B², and
    one large batched product per chunk instead of many small solves), and the final inverse B³ per block,
    which N ≥ B gradients amortise. ``gradients`` and ``shape`` are as for :func:`woodbury_inverse`.
    """
    *blocks, size = shape
    fisher = torch.zeros(math.prod(blocks), size, size, dtype=dtype, device=device)
    seen = 0
    for chunk in gradients:
        tick(lambda: f"Fisher blocks: {seen}/{count} gradients accumulated")
        chunk = chunk.to(dtype).reshape(-1, *chunk.shape[-2:])
        fisher.baddbmm_(chunk.transpose(-1, -2), chunk, alpha=1.0 / count)
        seen += chunk.shape[-2]
    if seen != count:
        raise PrunelabError(f"Fisher inverse: expected {count} gradients, got {seen}")
    fisher.diagonal(dim1=-2, dim2=-1).add_(damp)
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(fisher))
    return inverse.reshape(*blocks, size, size)


def woodbury_inverse(
    gradients: Iterable[torch.Tensor],
    count: int,
    damp: float,
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
    rank: int = 32,
) -> torch.Tensor:
    """(λI + (1/N) Σ_n g_n g_nᵀ)⁻¹ by the Sherman–Morrison recursion, for every block at once.

    Starts from F₀⁻¹ = λ⁻¹I and, for each gradient, F_n⁻¹ = F_{n−1}⁻¹ − (F_{n−1}⁻¹g)(F_{n−1}⁻¹g)ᵀ/(N + gᵀF_{n−1}⁻¹g).
    ``gradients`` yields chunks of shape (*blocks, k, B) holding consecutive g_n per block; ``shape`` is
    (*blocks, B). Up to ``rank`` consecutive gradients are applied as one Woodbury step
    F⁻¹ − F⁻¹Gᵀ(N·I + G F⁻¹Gᵀ)⁻¹G F⁻¹, which equals that many Sherman–Morrison steps in sequence but runs
    as matrix products (``rank=1`` is the rank-one recursion itself). Per gradient and block it costs about
    4B² + 4·rank·B operations, so ranks around B/4 are fastest.
    """
    *blocks, size = shape
    inverse = torch.eye(size, dtype=dtype, device=device).div(damp).expand(*blocks, size, size).reshape(-1, size, size)
    inverse = inverse.clone()
    seen = 0
    for chunk in gradients:
        chunk = chunk.to(dtype).reshape(-1, *chunk.shape[-2:])
        for start in range(0, chunk.shape[-2], rank):
            tick(lambda: f"Fisher inverse (Woodbury): {seen}/{count} gradients applied")
            g = chunk[:, start : start + rank]
            fg = inverse @ g.transpose(-1, -2)  # (blocks, B, k)
            inner = g @ fg + count * torch.eye(g.shape[-2], dtype=dtype, device=device)
            inverse.baddbmm_(fg, spd_solve(inner, fg.transpose(-1, -2)), alpha=-1)
            seen += g.shape[-2]
    if seen != count:
        raise PrunelabError(f"Woodbury inverse: expected {count} gradients, got {seen}")
    inverse = 0.5 * (inverse + inverse.transpose(-1, -2))
    return inverse.reshape(*blocks, size, size)
