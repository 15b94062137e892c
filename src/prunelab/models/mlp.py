"""Fully connected nets: LeNet-300-100, Laurent et al.'s tanh MLP, and MLP-7 (linear or ReLU)."""

from __future__ import annotations

import math

import torch
from torch import nn

from prunelab.errors import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": nn.Identity}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ConfigError(f"model.activation={name!r} is unknown (allowed: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


class MLP(nn.Module):
    """Flatten, then ``Linear → activation`` for each hidden width, then a linear classifier."""

    def __init__(self, input_shape: tuple[int, ...], widths: list[int], num_classes: int, act: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = math.prod(input_shape)
        for width in widths:
            layers += [nn.Linear(fan_in, width), activation(act)]
            fan_in = width
        layers.append(nn.Linear(fan_in, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
