"""CIFAR-style VGG-11/16/19 with BatchNorm: 3×3 convs (no bias) + BN + ReLU, five max-pools, then global
average pooling and a linear classifier (optionally preceded by hidden ``Linear → BN → ReLU`` layers, as
in Liu et al.'s VGG-16 with its 512-wide hidden layer)."""

from __future__ import annotations

import torch
from torch import nn

PLANS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class CifarVGG(nn.Module):
    def __init__(
        self,
        depth: int,
        input_shape: tuple[int, ...],
        num_classes: int,
        hidden: list[int] | None = None,
        width_divisor: int = 1,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        channels = input_shape[0]
        for item in PLANS[depth]:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                width = max(1, item // width_divisor)
                layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                channels = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        head: list[nn.Module] = []
        for width in hidden or []:
            head += [nn.Linear(channels, width), nn.BatchNorm1d(width), nn.ReLU()]
            channels = width
        head.append(nn.Linear(channels, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
