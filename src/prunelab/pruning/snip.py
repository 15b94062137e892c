"""SNIP (Lee et al. 2019): connection sensitivity |∂L(c⊙θ)/∂c_q| at c = 1, which equals |g_q θ_q|.

docs/methods.md §2.7. The gradient is that of the *sum* of the batch-mean losses over all scoring batches,
accumulated before the absolute value is taken (Synaptic-Flow does the same), so batches can cancel. The
scores are normalised to sum to 1, as in the paper; normalisation does not change the ranking. Works at
initialisation and on trained nets (torchprune's SNIP baseline). BatchNorm normalises with its running
statistics by default, at initialisation too, as SNIP's own code (``is_train: False`` while pruning) and
Synaptic-Flow's ``prune_loop`` (eval mode) score; ``batchnorm: batch`` uses the scoring batch's statistics
instead (on the copy, whose running-statistics updates are thrown away), which on a ResNet-20 at
initialisation chooses a very different mask (Jaccard ≈ 0.47 at 50 %, scripts/crosscheck/snip.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from prunelab.pruning.base import PruneContext
from prunelab.pruning.scoring_copy import require_batches, scoring_copy

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def connection_sensitivity(
    model: nn.Module, params: dict[str, torch.Tensor], batches: list, loss_fn: Loss = F.cross_entropy
) -> dict[str, torch.Tensor]:
    """|θ ⊙ ∇_θ Σ_b L_b| per tensor of ``params`` (unnormalised); ``model`` is differentiated as it is."""
    names = list(params)
    grads = [torch.zeros_like(p) for p in params.values()]
    for x, y in batches:
        loss = loss_fn(model(x), y)
        for acc, g in zip(grads, torch.autograd.grad(loss, [params[n] for n in names])):
            acc.add_(g)
    return {n: (g * params[n].detach()).abs() for n, g in zip(names, grads)}


def normalise(scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Divide by the total so the scores sum to 1 (left as they are when all are 0)."""
    total = sum(float(s.sum()) for s in scores.values())
    return {n: s / total for n, s in scores.items()} if total > 0 else scores


def score(ctx: PruneContext, batchnorm: str = "running") -> dict:
    batches = require_batches(ctx, "snip")
    model, params = scoring_copy(ctx, batch_statistics=batchnorm == "batch")
    return normalise(connection_sensitivity(model, params, batches))
