"""What a branch job needs torch for: the fresh weights of re-initialised branches, Scratch's sparse-scaled
init, isometry recovery, and :func:`branch_start`, which hands a branch to its type's ``start``.

Which branch types exist, what each starts from and how planning treats its config is declared once per type in
:mod:`prunelab.branch_types` (one module each, discovered), torch-free so that planning stays light.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from prunelab.branch_types import BranchStart, StartContext, get_branch_type
from prunelab.models import build_model
from prunelab.training.masks import Mask


def fresh_model(ctx: StartContext, sparse_scaled: bool = False) -> nn.Module:
    """The dense architecture newly initialised from the branch's init seed; with ``sparse_scaled``, its conv
    weights then redrawn from that seed by :func:`sparse_scaled_init_` for the mask (Scratch-E/B)."""
    seed = ctx.spec["seed"]["init"]
    fresh = build_model(ctx.dense_spec["model"], ctx.data.input_shape, ctx.data.num_classes, seed=seed)
    if sparse_scaled:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            sparse_scaled_init_(fresh, ctx.mask)
    return fresh


def sparse_scaled_init_(model: nn.Module, mask: Mask) -> None:
    """Liu et al.'s Scratch init for sparse convs: W ~ N(0, 2/n), n = nnz(W)/c_in, then masked.

    With c_in the dense input channels this is the weight-level code's rule (``cifar_E.py``), Kaiming fan-out
    scaled by 1/√density, so a sparse layer's outputs keep the dense variance. c_in counts only the input
    channels that keep a weight: under a structured mask the compact network Liu's structured Scratch-E/B
    trains has only those, and its default init N(0, 2/(k²·filters kept)) is this rule; when every input
    channel keeps a weight (unstructured masks short of extreme sparsity) the two coincide.
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
                inputs = int(mask[name].any(0).reshape(mask[name].shape[1], -1).any(1).sum())
                params[name].normal_(0.0, math.sqrt(2.0 * inputs / nnz))


def restore_isometry(
    model: nn.Module, mask: Mask, settings: dict, model_spec: dict, jsv_batches: list | None = None
) -> dict:
    """Wang et al.'s isometry recovery before (re)training; returns what was done, for the run's metrics.

    ``orthp`` replaces each layer's kept block by the sign-fixed Q of its QR (gain 1 for linear nets, √2 for
    ReLU), which needs whole rows and columns kept; ``ai`` runs masked Adam on ‖WWᵀ − I‖ and works for any
    mask. Either way the mask is re-applied, so pruned weights stay exactly zero. With ``jsv_batches`` the
    Jacobian singular values of the recovered net are summarised under ``jsv`` (Wang's code logs them after
    OrthP; the prune run's ``jsv`` holds the same summary right after pruning).
    """
    from prunelab.branch_types.isometry import approximate_isometry_, isometry_gap, orthp_
    from prunelab.metrics.jsv import measure

    weights = {n: p for n, p in model.named_parameters() if n in mask}

    def gaps() -> dict[str, float]:  # ‖WWᵀ − I‖ over the rows that keep any weight (pruned units are gone)
        return {
            n: isometry_gap(p.detach().reshape(p.shape[0], -1)[mask[n].reshape(p.shape[0], -1).any(1)])
            for n, p in weights.items()
        }

    before = gaps()
    if settings["method"] == "orthp":
        with torch.no_grad():
            orthp_(model, model_spec.get("activation", "relu"), mask)
    else:
        approximate_isometry_(model, mask, settings["iterations"], settings["lr"])
    mask.apply_(weights)
    report = {"method": settings["method"], "gap_before": before, "gap_after": gaps()}
    if jsv_batches:
        report["jsv"] = measure(model, jsv_batches)
    return report


def branch_start(
    spec: dict, dense_spec: dict, data, mask: Mask, pruned_state: dict, snapshots: dict[int, dict] | None
) -> BranchStart:
    """The starting point of branch ``spec``, as its type's ``start`` picks it (see :mod:`prunelab.branch_types`).

    ``pruned_state`` is the state the mask was chosen on (θ_T ⊙ m, or a method's updated weights);
    ``snapshots`` are the dense run's saved points ``{iteration: {"model", "optimizer"}}``.
    """
    ctx = StartContext(spec, dense_spec, data, mask, pruned_state, snapshots)
    return get_branch_type(spec["type"], "type").start(ctx)
