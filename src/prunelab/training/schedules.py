"""Learning-rate schedules as pure functions of the absolute iteration, and training-length arithmetic.

A schedule that depends only on the iteration has no state to checkpoint, and LR rewinding is just
evaluating it from iteration k onwards (docs/methods.md §3: LR(t) = schedule(k + t)). Milestones and warm-up are
given in epochs in the config and converted with the run's iterations per epoch.
"""

from __future__ import annotations

import math
import re

from prunelab.errors import ConfigError

_POINT = re.compile(r"^\s*(\d+)\s*(ep|it)\s*$")
# A save point that is no iteration: the weights at the best-validation epoch, kept as training goes (Laurent
# et al. prune their dense net's best-validation checkpoint, not its last epoch).
BEST = "best"


def iterations_per_epoch(n_train: int, batch_size: int, drop_last: bool = False) -> int:
    return n_train // batch_size if drop_last else -(-n_train // batch_size)


def to_iteration(point: str | int, ipe: int, key: str = "train.save_at") -> int:
    """``"3ep"`` → 3·ipe, ``"120it"`` → 120, a bare int is iterations."""
    if isinstance(point, int) and not isinstance(point, bool):
        return point
    match = _POINT.match(str(point))
    if not match:
        raise ConfigError(f"{key}: {point!r} is not a training point (use e.g. '2ep' or '150it')")
    value, unit = int(match.group(1)), match.group(2)
    return value * ipe if unit == "ep" else value


def save_iterations(save_at: list | tuple, ipe: int) -> list[int]:
    """The iterations of ``train.save_at``'s points, sorted; ``best`` has none (the loop keeps it on improving)."""
    return sorted({to_iteration(p, ipe) for p in save_at if p != BEST})


def total_iterations(train: dict, ipe: int) -> int:
    """Length of a run in iterations: ``iterations`` if given, else ``epochs`` · ipe."""
    if train.get("iterations") is not None:
        return int(train["iterations"])
    return int(train["epochs"]) * ipe


def learning_rate(train: dict, iteration: int, ipe: int) -> float:
    """LR at ``iteration`` (0-based) for the schedule in ``train``; warm-up is linear from lr/steps."""
    base = float(train["lr"])
    sched = train.get("schedule", {"name": "constant"})
    name = sched.get("name", "constant")
    warmup = int(round(float(train.get("warmup_epochs", 0)) * ipe))
    if warmup and iteration < warmup:
        return base * (iteration + 1) / warmup
    epoch = iteration / ipe
    if name == "constant":
        return base
    if name == "step":
        passed = sum(1 for m in sched.get("milestones", []) if iteration >= int(round(m * ipe)))
        return base * float(sched.get("gamma", 0.1)) ** passed
    if name == "cosine":
        total = total_iterations(train, ipe)
        progress = min(1.0, max(0.0, (iteration - warmup) / max(1, total - warmup)))
        floor = float(sched.get("min_lr", 0.0))
        return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if name == "exponential":
        return base * float(sched.get("gamma", 0.95)) ** math.floor(epoch)
    raise ConfigError(f"train.schedule.name={name!r} is unknown (allowed: constant, step, cosine, exponential)")
