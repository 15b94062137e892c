"""Liu et al.'s predefined structured pruning of CIFAR ResNets (l1_blocks) against the published architecture
statistics (docs/methods.md §4.1: Renda's parameter densities and Scratch-B epoch factors, loose ±2 % check)."""

import math

import pytest
import torch

from prunelab.errors import ConfigError
from prunelab.metrics.flops import count
from prunelab.models import build_model
from prunelab.pruning.l1_blocks import residual_blocks
from prunelab.pruning.multistep import run_method

PRESETS = {  # model, stage ratios, skipped conv ids, published density, published Scratch-B factor F_d/F_p - 1
    "resnet56-A": ("resnet56", [0.1, 0.1, 0.1], [16, 20, 38, 54], 0.9209, 0.1156411502),
    "resnet56-B": ("resnet56", [0.6, 0.3, 0.1], [16, 18, 20, 34, 38, 54], 0.8712, 0.3791088785),
    "resnet110-A": ("resnet110", [0.5, 0.0, 0.0], [36], 0.9773, 0.1882836396),
    "resnet110-B": ("resnet110", [0.5, 0.4, 0.3], [36, 38, 74], 0.6876, 0.6272741807),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_match_published_density_and_flops_factor(preset):
    name, ratios, skip, density, factor = PRESETS[preset]
    model = build_model({"name": name}, (3, 32, 32), 10, seed=0)
    mask = run_method(model, "l1_blocks", {"stage_ratios": ratios, "skip": skip}, None).mask
    dense, pruned = count(model, (3, 32, 32)), count(model, (3, 32, 32), mask)
    assert pruned["params"] / dense["params"] == pytest.approx(density, abs=0.02)
    assert dense["ops"] / pruned["ops"] - 1 == pytest.approx(factor, abs=0.02)


def test_mask_removes_conv1_filters_and_conv2_inputs_by_l1_norm():
    model = build_model({"name": "resnet20"}, (3, 32, 32), 10, seed=0)
    mask = run_method(model, "l1_blocks", {"stage_ratios": [0.5, 0.25, 0.0], "skip": [4]}, None).mask
    blocks = residual_blocks(model)
    assert len(blocks) == 9
    for b, (name, block) in enumerate(blocks):
        rows = mask[f"{name}.conv1.weight"].flatten(1).all(1)
        cols = mask[f"{name}.conv2.weight"].transpose(0, 1).flatten(1).all(1)
        assert torch.equal(rows, cols)
        assert mask[f"{name}.conv1.weight"].flatten(1).any(1).eq(rows).all()  # whole filters only
        ratio = [0.5, 0.25, 0.0][b // 3] if 2 + 2 * b != 4 else 0.0
        out = block.conv1.out_channels
        assert int((~rows).sum()) == out - math.floor(out * (1 - ratio))
        norms = block.conv1.weight.detach().abs().flatten(1).sum(1)
        if (~rows).any() and rows.any():
            assert norms[~rows].max() <= norms[rows].min()
    untouched = [n for n in mask if "conv" not in n or n == "conv.weight"]
    assert all(mask[n].all() for n in untouched)


def test_uniform_ratio_from_the_run_sparsity_and_argument_errors():
    model = build_model({"name": "resnet20"}, (3, 32, 32), 10, seed=0)
    uniform = run_method(model, "l1_blocks", {"stage_ratios": None, "skip": []}, 0.5).mask
    preset = run_method(model, "l1_blocks", {"stage_ratios": [0.5, 0.5, 0.5], "skip": []}, None).mask
    assert all(torch.equal(uniform[n], preset[n]) for n in uniform)
    with pytest.raises(ConfigError, match="either hparams.stage_ratios"):
        run_method(model, "l1_blocks", {"stage_ratios": [0.5, 0.5, 0.5], "skip": []}, 0.5)
    with pytest.raises(ConfigError, match="sparsity null is only for one-step methods"):
        run_method(model, "magnitude", {}, None)
