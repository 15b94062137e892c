"""SiPP-rand's importance sampling of one group's weights, and its unbiased reweighting.

docs/methods.md §2.9 steps 3–4. A group (one neuron's weights of one sign) with probabilities p_j ∝ ŝ_j should
keep m distinct weights. Drawing m′ times with replacement keeps Σ_j [1 − (1−p_j)^{m′}] distinct ones in
expectation; m′ is the smallest integer whose expectation reaches m (integer bisection, as torchprune's
``adapt_sample_size``). A kept weight becomes ŵ_j = W_j·count_j/(m′p_j), so E[ŵ] = W and every
pre-activation estimate ŵ·a is unbiased.

Two cases keep the group's whole support unchanged (ŵ = W, trivially unbiased): m at least the support
size, and a skewed p for which even ``MAX_DRAWS_PER_WEIGHT`` draws per weight would not reach m (torchprune
would draw astronomically often there). Draws run on the CPU from an explicit generator, in row chunks
that bound memory.
"""

from __future__ import annotations

import torch

MAX_DRAWS_PER_WEIGHT = 16
MAX_DRAW_ELEMENTS = 2**22

NONE, SAMPLE, SUPPORT = 0, 1, 2  # what each group does


def expected_unique(probs: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """Σ_j 1 − (1−p_j)^d per row, for draw counts d ≥ 1."""
    return (1.0 - torch.exp(draws.to(probs.dtype).unsqueeze(1) * torch.log1p(-probs))).sum(1)


def draw_counts(probs: torch.Tensor, unique: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(m′, mode) per row for ``unique`` = m distinct survivors wanted; mode is NONE, SAMPLE or SUPPORT."""
    support = (probs > 0).sum(1)
    unique = torch.minimum(unique.to(torch.int64), support)
    mode = torch.where(unique >= support, SUPPORT, SAMPLE)
    mode = torch.where(unique <= 0, NONE, mode)
    rows = (mode == SAMPLE).nonzero().flatten()
    draws = torch.zeros_like(unique)
    if len(rows) == 0:
        return draws, mode
    p, target = probs[rows], unique[rows]
    cap = MAX_DRAWS_PER_WEIGHT * support[rows]
    lo, hi = target - 1, target.clone()  # E(lo) ≤ lo < target: a draw adds at most one survivor
    while True:
        short = (expected_unique(p, hi) < target) & (hi < cap)
        if not bool(short.any()):
            break
        hi = torch.where(short, torch.minimum(2 * hi, cap), hi)
    reachable = expected_unique(p, hi) >= target
    while bool(((hi - lo > 1) & reachable).any()):
        mid = (lo + hi) // 2
        enough = expected_unique(p, torch.maximum(mid, torch.ones_like(mid))) >= target
        move = (hi - lo > 1) & reachable
        hi = torch.where(move & enough, mid, hi)
        lo = torch.where(move & ~enough, mid, lo)
    draws[rows] = torch.where(reachable, hi, torch.zeros_like(hi))
    mode[rows] = torch.where(reachable, SAMPLE, SUPPORT)
    return draws, mode


def _row_chunks(rows: list[int], draws: list[int]) -> list[list[int]]:
    """Consecutive rows grouped so that rows × widest draw count stays within ``MAX_DRAW_ELEMENTS``."""
    chunks, current, widest = [], [], 0
    for row, d in zip(rows, draws):
        if current and (len(current) + 1) * max(widest, d) > MAX_DRAW_ELEMENTS:
            chunks.append(current)
            current, widest = [], 0
        current.append(row)
        widest = max(widest, d)
    return chunks + ([current] if current else [])


def sample_reweighted(
    weight: torch.Tensor, probs: torch.Tensor, draws: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """ŵ = W·count/(m′p) per row with m′ = ``draws`` i.i.d. draws from p (rows with m′ = 0 become 0)."""
    out = torch.zeros_like(weight)
    rows = (draws > 0).nonzero().flatten().tolist()
    for chunk_rows in _row_chunks(rows, [int(draws[r]) for r in rows]):
        chunk = torch.tensor(chunk_rows)
        m = draws[chunk]
        widest = int(m.max())
        picks = torch.multinomial(probs[chunk], widest, replacement=True, generator=generator)
        used = (torch.arange(widest).unsqueeze(0) < m.unsqueeze(1)).to(weight.dtype)
        counts = torch.zeros(len(chunk), weight.shape[1], dtype=weight.dtype).scatter_add_(1, picks, used)
        scale = counts / (m.to(weight.dtype).unsqueeze(1) * probs[chunk].clamp_min(1e-300))
        out[chunk] = torch.where(counts > 0, weight[chunk] * scale, torch.zeros_like(scale))
    return out
