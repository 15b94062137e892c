"""The network a data-driven scorer differentiates: a deep copy of the context's model in the right mode.

Scorers must never mutate ``ctx.model`` (docs/methods.md §1.5). By default scoring at initialisation (GraSP;
§1.7) runs BatchNorm in train mode so it normalises with batch statistics, as GraSP's code does; the copy's
running-statistics updates are thrown away with the copy. Scoring a trained net uses eval mode. A scorer whose
authors chose otherwise says so (SNIP scores in eval mode at initialisation too).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from prunelab.errors import ConfigError
from prunelab.pruning.base import PruneContext


def scoring_copy(ctx: PruneContext, batch_statistics: bool | None = None) -> tuple[nn.Module, dict[str, nn.Parameter]]:
    """A deep copy of ``ctx.model`` and its prunable weights by name: in train mode (BatchNorm on batch
    statistics) when ``batch_statistics``, else eval mode; ``None`` means train mode at init, eval otherwise."""
    work = copy.deepcopy(ctx.model)
    work.train(ctx.at_init if batch_statistics is None else batch_statistics)
    named = dict(work.named_parameters())
    params = {name: named[name] for name in ctx.params}
    for p in work.parameters():
        p.requires_grad_(False)
    for p in params.values():
        p.requires_grad_(True)
    return work, params


def require_batches(ctx: PruneContext, method: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The scoring batches, or one clear line saying where they come from."""
    if not ctx.batches:
        raise ConfigError(
            f"method '{method}' scores on data batches, but none were given (set prune.scoring.examples > 0)"
        )
    return ctx.batches


def require_data(ctx: PruneContext, method: str):
    """The whole dataset (for methods that draw their own points), or one clear line."""
    if ctx.data is None:
        raise ConfigError(f"method '{method}' draws its own examples from the dataset, but no dataset was given")
    return ctx.data
