"""Random pruning: i.i.d. U(0,1) scores from the pruning seed's generator (float64, CPU).

Global scope gives a uniformly random K-subset; layer-wise scope puts every tensor exactly at s. Drawing on
the CPU makes the mask independent of the device the job happens to run on.
"""

from __future__ import annotations

import torch

from prunelab.pruning.base import PruneContext


def score(ctx: PruneContext) -> dict:
    return {name: torch.rand(p.shape, generator=ctx.generator, dtype=torch.float64) for name, p in ctx.params.items()}
