"""Liu et al.'s own code's outputs, pinned (issue #24 item 5): scripts/crosscheck/liu.py ran their scripts
(Eric-mingjie/rethinking-network-pruning @ 2ac473d70a09, docs/methods.md §4.1 and §3) on prunelab's seeded nets and
recorded what they chose; these tests hold prunelab to those numbers without their code.

- which filters ``vggprune.py`` (VGG-16-A) and ``res56prune.py`` (ResNet-56-A/B) keep: sha256 of the per-conv
  kept-filter masks, which prunelab's ``l1_filter`` / ``l1_blocks`` must reproduce bit for bit;
- the Scratch-B budget ``main_B.py`` derives from ``compute_flops.py`` (and the weight-level counter
  ``count_flops.py``): FLOPs ratio, epochs and LR milestones, which ``metrics/flops.py`` + ``scratch_b.py`` must give;
- ``weight-level/cifar_prune.py``'s mask (sha256), its threshold rule re-read here, and how prunelab's exact count
  differs from it (one entry);
- the Scratch init of a structured mask, which must have the compact net's scale (``main_E.py`` builds the
  compact net with its default init).
"""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from prunelab.branch_types.catalog.scratch_b import stretched
from prunelab.branch_types.starts import sparse_scaled_init_
from prunelab.metrics.flops import count
from prunelab.models import build_model
from prunelab.pruning.multistep import run_method

SHAPE = (3, 32, 32)
LIU_TRAIN = {"epochs": 160, "schedule": {"name": "step", "milestones": [80, 120], "gamma": 0.1}}
PRESETS = {
    "vgg16-A": ("l1_filter", {"layers": [0, 7, 8, 9, 10, 11, 12]}, 0.5),
    "resnet56-A": ("l1_blocks", {"stage_ratios": [0.1, 0.1, 0.1], "skip": [16, 20, 38, 54]}, None),
    "resnet56-B": ("l1_blocks", {"stage_ratios": [0.6, 0.3, 0.1], "skip": [16, 18, 20, 34, 38, 54]}, None),
}
# seed 1: their cfg_mask digest; their FLOPs ratio F_dense/F_pruned; E_B = int(160·ratio); LR drops at 0.5/0.75·E_B
THEIRS = {
    "vgg16-A": ("010a1c74d8165198d3e389fe517e19b877b8c1e2289fd351656785f043da7d36", 1.5190, 243, [121, 182]),
    "resnet56-A": ("6a00d1655c9d787dfc32a54499234e1dc4b530039f11d98eef3542486bdb3f22", 1.1157, 178, [89, 133]),
    "resnet56-B": ("45d627960b2b5ff6653295165d5e2e431f587454e29169cfe1a412720ff61341", 1.3791, 220, [110, 165]),
}
WEIGHT_LEVEL = {  # resnet56, seed 1: cifar_prune.py's mask digest and kept count; E_B from its count_flops.py
    0.3: ("5a06331b02854522c2c168f936e9209bca87023243a245e03bfc9312cd3e8d24", 593812, 210),
    0.8: ("1579fd1d3313f1a524e0c1120f9f70ddbf3fcf07f28cb124ac87c5d1d87a0b4f", 169660, 436),
}


def _digest(masks: list[torch.Tensor]) -> str:
    return hashlib.sha256(b"".join(m.bool().flatten().numpy().tobytes() for m in masks)).hexdigest()


def _pruned(preset: str):
    method, hparams, sparsity = PRESETS[preset]
    spec = {"name": "vgg16", "hidden": [512]} if preset.startswith("vgg") else {"name": "resnet56"}
    model = build_model(spec, SHAPE, 10, seed=1)
    return model, run_method(model, method, hparams, sparsity).mask


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_kept_filters_and_scratch_b_budget_are_the_authors(preset):
    model, mask = _pruned(preset)
    convs = [n for n, p in model.named_parameters() if p.dim() == 4]
    if preset.startswith("resnet"):
        convs = [n for n in convs if n.endswith("conv1.weight")]  # res56prune's cfg_mask: each block's conv1
    kept = [mask[n].reshape(mask[n].shape[0], -1).any(1) for n in convs]
    digest, ratio, epochs, milestones = THEIRS[preset]
    assert _digest(kept) == digest
    train, notes = stretched(LIU_TRAIN, count(model, SHAPE)["ops"], count(model, SHAPE, mask)["ops"])
    assert notes["flops_ratio"] == pytest.approx(ratio, abs=1e-4)
    assert train["epochs"] == epochs and train["schedule"]["milestones"] == milestones


@pytest.mark.parametrize("sparsity", sorted(WEIGHT_LEVEL))
def test_weight_level_mask_and_budget(sparsity):
    model = build_model({"name": "resnet56"}, SHAPE, 10, seed=1)
    convs = {n: p.detach() for n, p in model.named_parameters() if p.dim() == 4}
    digest, their_kept, their_epochs = WEIGHT_LEVEL[sparsity]
    # cifar_prune.py re-read: sort all conv |w|, threshold = the int(N·p)-th smallest (0-based), keep |w| > it
    flat = torch.cat([w.abs().flatten() for w in convs.values()])
    threshold = torch.sort(flat).values[int(flat.numel() * sparsity)]
    theirs = [w.abs() > threshold for w in convs.values()]
    assert _digest(theirs) == digest and sum(int(m.sum()) for m in theirs) == their_kept
    ours = run_method(model, "magnitude", {}, sparsity, scope="global", exclude=["fc.weight"]).mask
    ours_flat = torch.cat([ours[n].flatten() for n in convs])
    theirs_flat = torch.cat([m.flatten() for m in theirs])
    # prunelab prunes round(N·p); their rule int(N·p) + 1 (no ties here): ours keeps theirs and at most one more
    assert bool((ours_flat | ~theirs_flat).all()) and 0 <= int(ours_flat.sum()) - their_kept <= 1
    train, _ = stretched(LIU_TRAIN, count(model, SHAPE)["ops"], count(model, SHAPE, ours)["ops"])
    assert train["epochs"] == their_epochs


def test_scratch_init_of_a_structured_mask_has_the_compact_nets_scale():
    """main_E/main_B build the compact net: N(0, 2/(k²·filters kept)) whatever inputs were removed."""
    model, mask = _pruned("resnet56-B")
    torch.manual_seed(0)
    sparse_scaled_init_(model, mask)
    block = model.blocks[1]  # stage 0, pruned to 6 of 16 filters; conv2 keeps 16 filters on 6 inputs
    conv1, conv2 = block.conv1.weight.detach(), block.conv2.weight.detach()
    rows = mask["blocks.1.conv1.weight"].reshape(16, -1).any(1)
    assert int(rows.sum()) == 6
    assert float(conv1[rows].std()) == pytest.approx(math.sqrt(2 / (9 * 6)), rel=0.1)
    assert float(conv2[:, rows].std()) == pytest.approx(math.sqrt(2 / (9 * 16)), rel=0.1)
