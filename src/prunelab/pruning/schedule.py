"""Run a method over T pruning steps (docs/methods.md §1.8): sparsity schedule, re-scoring, weight updates.

At step t the method scores the network θ ⊙ m_{t−1} (with any weight update of earlier steps applied) and
the selector extends the mask to s_t; no training happens between steps. T = 1 is one-shot pruning.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from prunelab.data import TensorData
from prunelab.errors import ConfigError
from prunelab.masks import Mask, prunable_parameters
from prunelab.progress import tick
from prunelab.pruning.base import PruneContext, get_method, resolve_hparams, split_hparams
from prunelab.pruning.propagate import propagate
from prunelab.pruning.select import prune_count, select


def step_sparsities(sparsity: float, steps: int, schedule: str = "exponential", start: float = 0.0) -> list[float]:
    """Cumulative sparsity after each of ``steps`` steps from ``start`` to ``sparsity``.

    Exponential: each step prunes the same fraction r of the remaining weights, r = 1 − ((1−s)/(1−s₀))^{1/T}
    (Laurent's ``--exp``). Linear: equal increments. The last entry is exactly ``sparsity``.
    """
    if steps < 1:
        raise ConfigError(f"steps={steps} must be ≥ 1")
    if schedule == "exponential":
        keep_ratio = (1.0 - sparsity) / (1.0 - start) if start < 1.0 else 1.0
        out = [1.0 - (1.0 - start) * keep_ratio ** (t / steps) for t in range(1, steps + 1)]
    elif schedule == "linear":
        out = [start + (sparsity - start) * t / steps for t in range(1, steps + 1)]
    else:
        raise ConfigError(f"step_schedule={schedule!r} is unknown (allowed: exponential, linear)")
    out[-1] = sparsity
    return out


@dataclass
class PruneOutcome:
    mask: Mask
    model: nn.Module                     # the pruned copy: θ ⊙ m, plus any method's weight update
    updated: bool                        # True when surviving weights changed (OBS family, SiPP-rand, propagation)
    steps: list[dict] = field(default_factory=list)


def scoring_batches(data: TensorData, examples: int, batch_size: int, seed: int
                    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``examples`` training images (test-time transform: no augmentation) drawn with ``seed``."""
    n = len(data.train_y)
    count = min(int(examples), n)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))[:count].to(data.train_x.device)
    x, y = data.train_x.index_select(0, idx), data.train_y.index_select(0, idx)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, count, batch_size)]


def run_method(model: nn.Module, method_name: str, hparams: dict, sparsity: float | None, *, scope: str = "global",
               steps: int = 1, schedule: str = "exponential", previous: Mask | None = None,
               exclude: list[str] | tuple[str, ...] = (), data: TensorData | None = None,
               batches: list | None = None, seed: int = 0, at_init: bool = False) -> PruneOutcome:
    """Prune a deep copy of ``model`` to ``sparsity`` with the named method; ``model`` is left untouched."""
    method = get_method(method_name)
    hparams, options = split_hparams(resolve_hparams(method_name, hparams))  # idempotent for specs
    propagating = options.get("propagate", False)    # the step after the method (prunelab.pruning.propagate)
    if method.needs_data and not batches and data is None:
        raise ConfigError(f"method '{method_name}' needs scoring data, but none was given")
    if sparsity is None and not (method.own_sparsity and steps == 1):
        raise ConfigError(f"sparsity null is only for one-step methods that set their own structure "
                          f"(method '{method_name}' needs a sparsity)")
    work = copy.deepcopy(model)
    params = prunable_parameters(work, exclude)
    named = dict(work.named_parameters())
    mask = previous.to(next(iter(params.values())).device) if previous is not None else Mask.ones_like(params)
    start = mask.sparsity
    generator = torch.Generator().manual_seed(int(seed))
    updated = False
    log = []
    targets = [None] if sparsity is None else step_sparsities(sparsity, steps, schedule, start)
    for step, target in enumerate(targets, start=1):
        tick(lambda: f"{method_name}: step {step}/{len(targets)} to sparsity {target}")
        mask.apply_(params)
        ctx = PruneContext(model=work, params=params, mask=mask, sparsity=target, scope=scope,
                           generator=generator, batches=batches or [], data=data, at_init=at_init)
        if method.prune is not None:
            mask, updates = method.prune(ctx, **hparams)
        else:
            ctx.ranking = method.score(ctx, **hparams)
            mask, updates = select(ctx.ranking, target, scope, mask), None
        if propagating:
            mask, updates, propagated = propagate(ctx, mask, updates, exclude)
        if updates:
            with torch.no_grad():
                for name, value in updates.items():
                    named[name].copy_(value)
            updated = True
        log.append({"step": step, "sparsity_target": target, "sparsity": mask.sparsity,
                    "pruned": mask.total - mask.kept,
                    "expected_pruned": prune_count(target, mask.total) if scope == "global" and target is not None
                    else None})
        if propagating:
            log[-1]["propagation"] = propagated
    mask.apply_(params)
    return PruneOutcome(mask=mask, model=work, updated=updated, steps=log)
