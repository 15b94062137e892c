"""ImageNet ResNets of He et al.: 7×7/2 stem and 3×3/2 max-pool, four stages at widths 64–512 (×4 for
bottlenecks), 1×1 projection shortcuts where the shape changes, global average pool, one linear layer.

The layer names and shapes follow torchvision's ``resnet18/34/50`` (stride on the bottleneck's 3×3 conv,
the "v1.5" variant), so parameter counts equal torchvision's and a released state dict loads as is.
ReLUs are modules, one per use, so the FLOPs counter sees every activation.
"""

from __future__ import annotations

import torch
from torch import nn

from prunelab.errors import ConfigError


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels)


def _projection(in_planes: int, out_planes: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and in_planes == out_planes:
        return None
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False), _bn(out_planes))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _bn(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = _bn(planes)
        self.relu2 = nn.ReLU()
        self.downsample = _projection(in_planes, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + skip)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = _bn(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = _bn(planes)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = _bn(out_planes)
        self.relu3 = nn.ReLU()
        self.downsample = _projection(in_planes, out_planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.relu2(self.bn2(self.conv2(out)))))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu3(out + skip)


# depth -> (block type, blocks per stage)
DEPTHS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3))}


class ImageNetResNet(nn.Module):
    def __init__(self, depth: int, input_shape: tuple[int, ...], num_classes: int, width: int = 64):
        super().__init__()
        if depth not in DEPTHS:
            raise ConfigError(f"ImageNet ResNet depth {depth} is not one of {sorted(DEPTHS)}")
        block, counts = DEPTHS[depth]
        self.conv1 = nn.Conv2d(input_shape[0], width, 7, stride=2, padding=3, bias=False)
        self.bn1 = _bn(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_planes = width
        for stage, count in enumerate(counts):
            planes = width * 2**stage
            blocks = []
            for i in range(count):
                blocks.append(block(in_planes, planes, 2 if stage > 0 and i == 0 else 1))
                in_planes = planes * block.expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.fc(torch.flatten(self.avgpool(out), 1))
