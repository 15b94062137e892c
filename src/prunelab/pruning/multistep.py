"""Run a method over T pruning steps (docs/methods.md §1.8): sparsity schedule, re-scoring, weight updates.

At step t the method scores the network θ ⊙ m_{t−1} (with any weight update of earlier steps applied) and
the selector extends the mask to s_t; no training happens between steps. T = 1 is one-shot pruning. Which
training examples step t scores on is :class:`ScoringDraws`' business (docs/methods.md §1.7).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from prunelab.data.tensors import TensorData
from prunelab.errors import ConfigError
from prunelab.progress import tick
from prunelab.pruning.base import PruneContext, get_method, resolve_hparams, split_hparams
from prunelab.pruning.propagate import propagate
from prunelab.pruning.select import prune_count, select
from prunelab.training.masks import Mask, prunable_parameters


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
    model: nn.Module  # the pruned copy: θ ⊙ m, plus any method's weight update
    updated: bool  # True when surviving weights changed (OBS family, SiPP-rand, propagation)
    steps: list[dict] = field(default_factory=list)


def scoring_batches(
    data: TensorData, examples: int, batch_size: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``examples`` training images (test-time transform: no augmentation) drawn with ``seed``."""
    n = len(data.train_y)
    count = min(int(examples), n)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))[:count].to(data.train_x.device)
    x, y = data.train_x.index_select(0, idx), data.train_y.index_select(0, idx)
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, count, batch_size)]


PER_STEP = ("fresh", "fixed")


def scoring_seed(seed: int, step: int) -> int:
    """The seed of step ``step``'s scoring subset under ``per_step: fresh``: ``seed`` itself at step 1, so a
    one-step run scores on the subset it always did; later steps take the first 8 bytes of
    sha256("scoring/<seed>/<step>") (63 bits), which depends on (seed, step) only and, unlike seed + step − 1,
    does not hand one replicate's step 2 the subset of the next replicate's step 1."""
    if step == 1:
        return int(seed)
    digest = hashlib.sha256(f"scoring/{int(seed)}/{int(step)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True, eq=False)
class ScoringDraws:
    """The scoring batches of each pruning step, from a prune spec's ``scoring`` block.

    ``fresh`` (the default of multi-step runs) scores step t on its own subset drawn with
    :func:`scoring_seed` (seed, t): Laurent et al. iterate a shuffled loader anew at every step, so each of
    their steps sees new examples. ``fixed`` scores every step on step 1's subset. A block without
    ``per_step`` (one-step runs, and specs written before the key existed) is ``fixed``, which is what those
    runs did. Calling the object with a step number gives that step's batches.
    """

    data: TensorData
    examples: int
    batch_size: int
    seed: int
    per_step: str  # "fresh" or "fixed"

    @classmethod
    def from_spec(cls, data: TensorData, scoring: dict, where: str = "spec.scoring") -> ScoringDraws:
        per_step = scoring.get("per_step", "fixed")
        if per_step not in PER_STEP:
            raise ConfigError(f"{where}.per_step: {per_step!r} is unknown (allowed: {', '.join(PER_STEP)})")
        return cls(data, int(scoring["examples"]), int(scoring["batch_size"]), int(scoring["seed"]), per_step)

    def seed_of(self, step: int) -> int:
        return scoring_seed(self.seed, step if self.per_step == "fresh" else 1)

    def __call__(self, step: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return scoring_batches(self.data, self.examples, self.batch_size, self.seed_of(step))


def run_method(
    model: nn.Module,
    method_name: str,
    hparams: dict,
    sparsity: float | None,
    *,
    scope: str = "global",
    steps: int = 1,
    schedule: str = "exponential",
    previous: Mask | None = None,
    exclude: list[str] | tuple[str, ...] = (),
    data: TensorData | None = None,
    batches: list | Callable[[int], list] | None = None,
    seed: int = 0,
    at_init: bool = False,
) -> PruneOutcome:
    """Prune a deep copy of ``model`` to ``sparsity`` with the named method; ``model`` is left untouched.
    ``batches``: the scoring batches of every step, or a function of the step number (1, 2, …) giving them
    (:class:`ScoringDraws`)."""
    method = get_method(method_name)
    hparams, options = split_hparams(resolve_hparams(method_name, hparams))  # idempotent for specs
    propagating = options.get("propagate", False)  # the step after the method (prunelab.pruning.propagate)
    if method.needs_data and not batches and data is None:
        raise ConfigError(f"method '{method_name}' needs scoring data, but none was given")
    if sparsity is None and not (method.own_sparsity and steps == 1):
        raise ConfigError(
            f"sparsity null is only for one-step methods that set their own structure "
            f"(method '{method_name}' needs a sparsity)"
        )
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
        ctx = PruneContext(
            model=work,
            params=params,
            mask=mask,
            sparsity=target,
            scope=scope,
            generator=generator,
            batches=batches(step) if callable(batches) else batches or [],
            data=data,
            at_init=at_init,
            propagating=propagating,
            exclude=tuple(exclude),
        )
        if method.prune is not None:
            mask, updates = method.prune(ctx, **hparams)
        else:
            ctx.ranking = method.score(ctx, **hparams)
            mask, updates = select(ctx.ranking, target, scope, mask), None
        if propagating:
            mask, updates, propagated = propagate(ctx, mask, updates, exclude, refill=not method.propagates_in_search)
        if updates:
            with torch.no_grad():
                for name, value in updates.items():
                    named[name].copy_(value)
            updated = True
        log.append(
            {
                "step": step,
                "sparsity_target": target,
                "sparsity": mask.sparsity,
                "pruned": mask.total - mask.kept,
                "expected_pruned": prune_count(target, mask.total)
                if scope == "global" and target is not None
                else None,
            }
        )
        if propagating:
            log[-1]["propagation"] = propagated
    mask.apply_(params)
    return PruneOutcome(mask=mask, model=work, updated=updated, steps=log)
