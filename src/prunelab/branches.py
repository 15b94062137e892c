"""Branches: what is trained after a mask is chosen (docs/methods.md §3).

| type           | starting weights                         | schedule                         | length        |
|----------------|------------------------------------------|----------------------------------|---------------|
| finetune       | pruned weights (OBS-family: updated)     | the branch's own (constant LR)   | its epochs    |
| rewind_weights | θ_k ⊙ m from the dense run               | original, resumed at k           | T − k         |
| rewind_lr      | pruned weights                           | original, resumed at k           | T − k         |
| lottery        | θ_0 ⊙ m                                  | original                         | T             |
| reinit         | fresh init (new seed) ⊙ m                | original                         | T             |
| scratch_e      | fresh sparse-scaled init ⊙ m             | original                         | T             |
| scratch_b      | fresh sparse-scaled init ⊙ m             | stretched by FLOPs ratio         | ⌊E·F_d/F_p⌋ ep |

Every branch builds a fresh optimizer (unless ``optimizer_state: rewind`` restores the dense run's at k)
and trains under the mask invariant.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from prunelab.errors import CheckpointError, ConfigError
from prunelab.masks import Mask
from prunelab.metrics.flops import count as count_flops
from prunelab.models import build_model
from prunelab.schedules import iterations_per_epoch, to_iteration, total_iterations


@dataclass
class BranchStart:
    """Initial weights and training window of a branch."""

    state: dict                     # model state_dict to load before training
    train: dict                     # the training config actually run
    start_iteration: int
    optimizer_state: dict | None
    notes: dict                     # recorded in metrics (e.g. Scratch-B epochs, FLOPs ratio)
    origin: str                     # where the weights and the schedule start, in words (the job logs it)


def sparse_scaled_init_(model: nn.Module, mask: Mask) -> None:
    """Liu et al.'s Scratch init for sparse convs: W ~ N(0, 2/n), n = nnz(W)/in_channels, then masked.

    This is Kaiming fan-out scaled by 1/√density, so a sparse layer's outputs keep the dense variance.
    Linear layers keep their default init (Liu's weight-level code does the same).
    """
    params = dict(model.named_parameters())
    with torch.no_grad():
        for module_name, module in model.named_modules():
            if isinstance(module, nn.Conv2d):
                name = f"{module_name}.weight" if module_name else "weight"
                if name not in mask:
                    continue
                nnz = int(mask[name].sum())
                if nnz == 0:
                    params[name].zero_()
                    continue
                std = math.sqrt(2.0 * module.in_channels / nnz)
                params[name].normal_(0.0, std)


def scratch_b_train(train: dict, dense_ops: int, pruned_ops: int) -> tuple[dict, dict]:
    """Scratch-B: E_B = ⌊E·F_d/F_p⌋ epochs; step milestones scaled by E_B/E and floored."""
    if train.get("iterations") is not None:
        raise ConfigError("Scratch-B scales epochs; the dense run must be configured with train.epochs, "
                          "not train.iterations")
    epochs = float(train["epochs"])
    ratio = dense_ops / max(1, pruned_ops)
    epochs_b = math.floor(epochs * ratio)
    out = copy.deepcopy(train)
    out["epochs"] = epochs_b
    schedule = out.get("schedule", {})
    if schedule.get("milestones"):
        schedule["milestones"] = [math.floor(m * epochs_b / epochs) for m in schedule["milestones"]]
    return out, {"flops_ratio": ratio, "scratch_b_epochs": epochs_b, "dense_epochs": epochs}


def restore_isometry(model: nn.Module, mask: Mask, settings: dict, model_spec: dict) -> dict:
    """Wang et al.'s isometry recovery before (re)training; returns what was done, for the run's metrics.

    ``orthp`` replaces each layer's kept block by the sign-fixed Q of its QR (gain 1 for linear nets, √2 for
    ReLU), which needs whole rows and columns kept; ``ai`` runs masked Adam on ‖WWᵀ − I‖ and works for any
    mask. Either way the mask is re-applied, so pruned weights stay exactly zero.
    """
    from prunelab.isometry import approximate_isometry_, isometry_gap, orthp_

    weights = {n: p for n, p in model.named_parameters() if n in mask}

    def gaps() -> dict[str, float]:  # ‖WWᵀ − I‖ over the rows that keep any weight (pruned units are gone)
        return {n: isometry_gap(p.detach().reshape(p.shape[0], -1)[mask[n].reshape(p.shape[0], -1).any(1)])
                for n, p in weights.items()}

    before = gaps()
    if settings["method"] == "orthp":
        with torch.no_grad():
            orthp_(model, model_spec.get("activation", "relu"), mask)
    else:
        approximate_isometry_(model, mask, settings["iterations"], settings["lr"])
    mask.apply_(weights)
    return {"method": settings["method"], "gap_before": before, "gap_after": gaps()}


def branch_start(spec: dict, dense_spec: dict, data, mask: Mask, pruned_state: dict,
                 snapshots: dict[int, dict] | None) -> BranchStart:
    """Resolve the starting point of branch ``spec``.

    ``pruned_state`` is the state the mask was chosen on (θ_T ⊙ m, or a method's updated weights);
    ``snapshots`` are the dense run's saved points ``{iteration: {"model", "optimizer"}}``.
    """
    kind = spec["type"]
    train = spec["train"]
    ipe = iterations_per_epoch(len(data.train_y), int(train["batch_size"]))
    notes: dict = {}
    if kind == "finetune":
        return BranchStart(pruned_state, train, 0, None, notes, "the pruned weights, schedule from iteration 0")
    if kind in ("rewind_weights", "rewind_lr", "lottery"):
        k = to_iteration(spec["rewind"], ipe, "branches.rewind")
        if k > total_iterations(train, ipe):
            raise ConfigError(f"branch rewind point {spec['rewind']} (iteration {k}) is past the end of training "
                              f"({total_iterations(train, ipe)} iterations)")
        notes["rewind_iteration"] = k
        at = f"iteration {k} (epoch {k / ipe:.3g}, {spec['rewind']})"
        if kind == "rewind_lr":
            return BranchStart(pruned_state, train, k, None, notes,
                               f"the pruned weights, learning-rate schedule rewound to {at}")
        if snapshots is None or k not in snapshots:
            saved = sorted(snapshots or {})
            raise CheckpointError(f"branch '{kind}' needs the dense run's weights at iteration {k} "
                                  f"({spec['rewind']}), but it saved only iterations {saved}; add "
                                  f"'{spec['rewind']}' to the dense config's train.save_at (its hash changes)")
        opt_state = snapshots[k]["optimizer"] if spec.get("optimizer_state") == "rewind" else None
        return BranchStart(snapshots[k]["model"], train, k, opt_state, notes,
                           f"weights rewound to {at}: the dense run's snapshot of iteration {k}, with "
                           + ("its optimizer state" if opt_state is not None else "a fresh optimizer state"))
    if kind in ("reinit", "scratch_e", "scratch_b"):
        fresh = build_model(dense_spec["model"], data.input_shape, data.num_classes, seed=spec["seed"]["init"])
        if kind != "reinit":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(spec["seed"]["init"])
                sparse_scaled_init_(fresh, mask)
        if kind == "scratch_b":
            dense_ops = count_flops(fresh, data.input_shape)["ops"]
            pruned_ops = count_flops(fresh, data.input_shape, mask)["ops"]
            train, notes = scratch_b_train(train, dense_ops, pruned_ops)
        return BranchStart(fresh.state_dict(), train, 0, None, notes,
                           f"a fresh initialisation (seed {spec['seed']['init']}), schedule from iteration 0")
    raise ConfigError(f"branch type {kind!r} is unknown")
