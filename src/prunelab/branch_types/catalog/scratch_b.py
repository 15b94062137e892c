"""Scratch-B (Liu et al.): Scratch-E trained longer, for the dense run's budget of FLOPs."""

from __future__ import annotations

import copy
import math

from prunelab.branch_types.base import BranchStart, BranchType, StartContext
from prunelab.errors import ConfigError


def stretched(train: dict, dense_ops: int, pruned_ops: int) -> tuple[dict, dict]:
    """E_B = ⌊E·F_d/F_p⌋ epochs; step milestones scaled by E_B/E and floored; and the notes that record it."""
    if train.get("iterations") is not None:
        raise ConfigError(
            "Scratch-B scales epochs; the dense run must be configured with train.epochs, not train.iterations"
        )
    epochs = float(train["epochs"])
    ratio = dense_ops / max(1, pruned_ops)
    epochs_b = math.floor(epochs * ratio)
    out = copy.deepcopy(train)
    out["epochs"] = epochs_b
    schedule = out.get("schedule", {})
    if schedule.get("milestones"):
        schedule["milestones"] = [math.floor(m * epochs_b / epochs) for m in schedule["milestones"]]
    return out, {"flops_ratio": ratio, "scratch_b_epochs": epochs_b, "dense_epochs": epochs}


def start(ctx: StartContext) -> BranchStart:
    from prunelab.branch_types.starts import fresh_model  # torch: only when a job starts the branch
    from prunelab.metrics.flops import count

    model = fresh_model(ctx, sparse_scaled=True)
    shape = ctx.data.input_shape
    train, notes = stretched(ctx.train, count(model, shape)["ops"], count(model, shape, ctx.mask)["ops"])
    return ctx.fresh(model.state_dict(), train, notes)


BRANCH_TYPE = BranchType(
    name="scratch_b",
    label="Scratch-B",
    start=start,
    doc="Starts like Scratch-E (new sparse-scaled initialisation ⊙ m); the original schedule stretched, its "
    "milestones scaled by E_B/E; E_B = ⌊E·F_dense/F_pruned⌋ epochs, the dense run's FLOPs budget.",
)
