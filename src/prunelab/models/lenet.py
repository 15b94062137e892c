"""Convolutional LeNets: LeCun's LeNet-5 (6-16-120-84, used by Wang et al.) and the Caffe LeNet-5 (20-50-500,
used by SiPP). Both accept 28×28 or 32×32 inputs; 28×28 inputs are zero-padded by 2 in the first conv, as
LeCun's 32×32 retina implies."""

from __future__ import annotations

import torch
from torch import nn

from prunelab.models.mlp import activation


def _flat_features(features: nn.Module, input_shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        return features(torch.zeros(1, *input_shape)).numel()


class LeNet5(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], num_classes: int, act: str = "relu"):
        super().__init__()
        channels, height = input_shape[0], input_shape[1]
        pad = max(0, (32 - height) // 2)
        self.features = nn.Sequential(
            nn.Conv2d(channels, 6, 5, padding=pad),
            activation(act),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            activation(act),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 120, 5),
            activation(act),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(_flat_features(self.features, input_shape), 84), activation(act), nn.Linear(84, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNet5Caffe(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_shape[0], 20, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(_flat_features(self.features, input_shape), 500), nn.ReLU(), nn.Linear(500, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
