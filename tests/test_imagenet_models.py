"""ImageNet ResNet-18/34/50 against torchvision's definitions and the published counts, and Liu et al.'s
ResNet-34 A/B L1 presets against the published Scratch-B budgets and Renda's densities (references.py)."""

import math

import pytest
import torch
import torchvision

from prunelab.errors import ConfigError
from prunelab.metrics.flops import count
from prunelab.models import build_model
from prunelab.pruning.l1_blocks import block_layout, residual_blocks
from prunelab.pruning.multistep import run_method
from prunelab.replication.references import _LIU_EPOCH_FACTOR, _RENDA_DENSITY

SHAPE = (3, 224, 224)
# published parameters and GMACs at 224×224, 1000 classes
PUBLISHED = {"resnet18": (11_689_512, 1.82), "resnet34": (21_797_672, 3.67), "resnet50": (25_557_032, 4.11)}
# Liu's ImageNet L1 presets (Li et al.'s ResNet-34-pruned-A/B): stage ratios and skipped conv ids
LIU_RESNET34 = {"A": [0.3, 0.3, 0.3, 0.0], "B": [0.5, 0.6, 0.4, 0.0]}
LIU_RESNET34_SKIP = [2, 8, 14, 16, 26, 28, 30, 32]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_counts_and_layer_shapes_match_torchvision_and_the_published_values(name):
    model = build_model({"name": name}, SHAPE, 1000)
    reference = getattr(torchvision.models, name)(weights=None)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    params, gmacs = PUBLISHED[name]
    counted = count(model, SHAPE)
    assert counted["params_total"] == params == sum(p.numel() for p in reference.parameters())
    assert counted["macs"] / 1e9 == pytest.approx(gmacs, rel=0.01)


def test_resnet34_stages_follow_the_strided_blocks_and_liu_conv_ids():
    model = build_model({"name": "resnet34"}, SHAPE, 1000)
    layout = block_layout(residual_blocks(model))
    assert [stage for stage, _ in layout] == [0] * 3 + [1] * 4 + [2] * 6 + [3] * 3
    assert [conv_id for _, conv_id in layout] == list(range(2, 33, 2))  # 1×1 projections are not counted


def test_bottleneck_blocks_number_three_convs_each():
    layout = block_layout(residual_blocks(build_model({"name": "resnet50"}, SHAPE, 1000)))
    assert [conv_id for _, conv_id in layout] == [2 + 3 * b for b in range(16)]


@pytest.mark.parametrize("arch", sorted(LIU_RESNET34))
def test_liu_resnet34_presets_match_the_published_budget_factor_and_density(arch):
    model = build_model({"name": "resnet34"}, SHAPE, 1000, seed=0)
    mask = run_method(model, "l1_blocks", {"stage_ratios": LIU_RESNET34[arch], "skip": LIU_RESNET34_SKIP}, None).mask
    dense, pruned = count(model, SHAPE), count(model, SHAPE, mask)
    assert dense["ops"] / pruned["ops"] - 1 == pytest.approx(_LIU_EPOCH_FACTOR[("resnet34", arch)], abs=0.002)
    assert pruned["params"] / dense["params"] == pytest.approx(_RENDA_DENSITY[("resnet34", arch)], abs=0.002)
    for (name, block), (stage, conv_id) in zip(residual_blocks(model), block_layout(residual_blocks(model))):
        rows = mask[f"{name}.conv1.weight"].flatten(1).all(1)
        ratio = 0.0 if conv_id in LIU_RESNET34_SKIP else LIU_RESNET34[arch][stage]
        out = block.conv1.out_channels
        assert int(rows.sum()) == math.floor(out * (1 - ratio))
        assert torch.equal(rows, mask[f"{name}.conv2.weight"].transpose(0, 1).flatten(1).all(1))
        if block.downsample is not None:  # projection shortcuts are never pruned
            assert mask[f"{name}.downsample.0.weight"].all()


def test_stage_ratios_must_cover_every_stage():
    model = build_model({"name": "resnet18"}, (3, 32, 32), 10, seed=0)
    with pytest.raises(ConfigError, match="3 entries but the network has 4 stages"):
        run_method(model, "l1_blocks", {"stage_ratios": [0.1, 0.1, 0.1], "skip": []}, None)
