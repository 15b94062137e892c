"""Magnitude pruning (Han et al.; the IMP scoring step of Frankle & Carbin): score = |θ|.

Used one-shot (global or layer-wise scope) and as the per-level step of iterative magnitude pruning, where
already-pruned entries are ranked −∞ by the selector so each level prunes among the survivors.
"""

from __future__ import annotations

from prunelab.pruning.base import PruneContext


def score(ctx: PruneContext) -> dict:
    return {name: p.detach().abs() for name, p in ctx.params.items()}
