"""Model zoo: parameter counts against published/hand-computed values, forward shapes, FLOPs hand counts."""

import pytest
import torch
from torch import nn

from prunelab.metrics.flops import count
from prunelab.models import build_model
from prunelab.training.masks import Mask, prunable_parameters


def vgg_params(plan, classes=10, hidden=()):
    total, c = 0, 3
    for item in plan:
        if item != "M":
            total += 9 * c * item + 2 * item  # conv without bias + BN affine
            c = item
    for h in hidden:
        total += c * h + h + 2 * h
        c = h
    return total + c * classes + classes


def resnet_params(depth, width=16, classes=10):
    n = (depth - 2) // 6
    total = 27 * width + 2 * width
    c = width
    for _stage, planes in enumerate((width, 2 * width, 4 * width)):
        for _i in range(n):
            total += 9 * c * planes + 2 * planes + 9 * planes * planes + 2 * planes
            c = planes
    return total + c * classes + classes


@pytest.mark.parametrize(
    "name,shape,expected",
    [
        ("lenet_300_100", (1, 28, 28), 266_610),
        ("lenet5", (1, 32, 32), 61_706),
        ("lenet5_caffe", (1, 28, 28), 431_080),
        ("mlp7", (1, 32, 32), 1024 * 100 + 100 + 5 * (100 * 100 + 100) + 100 * 10 + 10),
        ("resnet20", (3, 32, 32), resnet_params(20)),
        ("resnet32", (3, 32, 32), resnet_params(32)),
        ("resnet56", (3, 32, 32), resnet_params(56)),
        ("resnet110", (3, 32, 32), resnet_params(110)),
        (
            "vgg16",
            (3, 32, 32),
            vgg_params([64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]),
        ),
        (
            "vgg19",
            (3, 32, 32),
            vgg_params(
                [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
            ),
        ),
    ],
)
def test_parameter_counts(name, shape, expected):
    model = build_model({"name": name}, shape, 10, seed=0)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model(torch.zeros(2, *shape)).shape == (2, 10)


def test_known_resnet_sizes():
    assert resnet_params(20) == 269_722  # "0.27M" in He et al.
    assert resnet_params(56) == 853_018  # "0.85M"
    assert resnet_params(110) == 1_727_962  # "1.7M"


def test_seeded_init_is_reproducible_and_isolated():
    a = build_model({"name": "lenet5"}, (1, 28, 28), 10, seed=3)
    torch.rand(100)  # global RNG use in between must not matter
    b = build_model({"name": "lenet5"}, (1, 28, 28), 10, seed=3)
    c = build_model({"name": "lenet5"}, (1, 28, 28), 10, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.state_dict()["features.0.weight"], c.state_dict()["features.0.weight"])


def test_flops_hand_counts():
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, bias=False),
        nn.ReLU(),
        nn.Conv2d(2, 3, 3, padding=1, bias=False),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 5),
    )
    dense = count(net, (1, 6, 6))
    # conv1: 18 weights x 16 outputs; conv2: 54 weights x 16 outputs; linear 240 MACs
    assert dense["macs"] == 18 * 16 + 54 * 16 + 240
    # Liu's counters: a multiply and an add per MAC, + ReLU over 2x4x4, + linear bias
    assert dense["ops"] == 2 * dense["macs"] + 2 * 16 + 5
    mask = Mask.ones_like(prunable_parameters(net))
    mask["0.weight"].view(-1)[:9] = False  # all of conv1's filter 0: its channel is gone, ReLU works on one
    assert count(net, (1, 6, 6), mask)["macs"] == 9 * 16 + 54 * 16 + 240
    assert count(net, (1, 6, 6), mask)["ops"] == 2 * (9 * 16 + 54 * 16 + 240) + 16 + 5
    mask["0.weight"].view(-1)[:9] = True
    mask["0.weight"].view(-1)[:8] = False  # one weight of filter 0 left: the channel is still computed
    assert count(net, (1, 6, 6), mask)["ops"] == 2 * (10 * 16 + 54 * 16 + 240) + 2 * 16 + 5
    lenet = build_model({"name": "lenet_300_100"}, (1, 28, 28), 10)
    assert count(lenet, (1, 28, 28))["macs"] == 784 * 300 + 300 * 100 + 100 * 10
    resnet20 = build_model({"name": "resnet20"}, (3, 32, 32), 10)
    # stem 16·27·32², stage 1: 6 convs 16·144·32², stage 2: 32·144·16² + 5 convs 32·288·16², stage 3 likewise, fc
    expected = (
        16 * 27 * 1024 + 6 * 16 * 144 * 1024 + (32 * 144 + 5 * 32 * 288) * 256 + (64 * 288 + 5 * 64 * 576) * 64 + 640
    )
    assert count(resnet20, (3, 32, 32))["macs"] == expected == 40_551_040
