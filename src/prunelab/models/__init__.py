"""Model registry: ``build_model(spec, input_shape, num_classes)`` for every architecture of the four papers.

Prunable parameters are the ``weight`` of every ``nn.Conv2d`` and ``nn.Linear`` (see
:func:`prunelab.training.masks.prunable_parameters`); the models therefore use plain conv/linear layers, with
biases off wherever BatchNorm follows, so that parameter counts match the papers.

Layer: may import ``records``, ``config`` and the shared modules; independent of ``data``.
"""

from __future__ import annotations

import torch
from torch import nn

from prunelab.errors import ConfigError
from prunelab.models.init import initialize
from prunelab.models.lenet import LeNet5, LeNet5Caffe
from prunelab.models.mlp import MLP
from prunelab.models.resnet_cifar import CifarResNet, PreActResNet18
from prunelab.models.resnet_imagenet import ImageNetResNet
from prunelab.models.vgg_cifar import CifarVGG


def _mlp(spec, shape, classes):
    widths = spec.get("widths")
    if widths is None:
        raise ConfigError("model.widths is required for model 'mlp'")
    return MLP(shape, widths, classes, spec.get("activation", "relu"))


MODELS = {
    "lenet_300_100": lambda s, shape, c: MLP(shape, [300, 100], c, s.get("activation", "relu")),
    "mlp7": lambda s, shape, c: MLP(shape, [s.get("width", 100)] * 6, c, s.get("activation", "relu")),
    "mlp": _mlp,
    "lenet5": lambda s, shape, c: LeNet5(shape, c, s.get("activation", "relu")),
    "lenet5_caffe": lambda s, shape, c: LeNet5Caffe(shape, c),
    "resnet20": lambda s, shape, c: CifarResNet(20, shape, c, s.get("width", 16)),
    "resnet32": lambda s, shape, c: CifarResNet(32, shape, c, s.get("width", 16)),
    "resnet56": lambda s, shape, c: CifarResNet(56, shape, c, s.get("width", 16)),
    "resnet110": lambda s, shape, c: CifarResNet(110, shape, c, s.get("width", 16)),
    "resnet18": lambda s, shape, c: ImageNetResNet(18, shape, c, s.get("width", 64)),
    "resnet34": lambda s, shape, c: ImageNetResNet(34, shape, c, s.get("width", 64)),
    "resnet50": lambda s, shape, c: ImageNetResNet(50, shape, c, s.get("width", 64)),
    "preact_resnet18": lambda s, shape, c: PreActResNet18(shape, c, s.get("width", 64)),
    "vgg11": lambda s, shape, c: CifarVGG(11, shape, c, s.get("hidden", []), s.get("width_divisor", 1)),
    "vgg16": lambda s, shape, c: CifarVGG(16, shape, c, s.get("hidden", []), s.get("width_divisor", 1)),
    "vgg19": lambda s, shape, c: CifarVGG(19, shape, c, s.get("hidden", []), s.get("width_divisor", 1)),
}


def build_model(spec: dict, input_shape: tuple[int, ...], num_classes: int, seed: int | None = None) -> nn.Module:
    """Construct the model of ``spec`` and, when ``seed`` is given, initialise it from that seed alone."""
    name = spec["name"]
    if name not in MODELS:
        raise ConfigError(f"model.name={name!r} is unknown (allowed: {', '.join(sorted(MODELS))})")
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = MODELS[name](spec, tuple(input_shape), num_classes)
            initialize(model, spec.get("init", "default"))
        return model
    return MODELS[name](spec, tuple(input_shape), num_classes)
