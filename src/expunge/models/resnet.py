"""ResNets written in plain torch (no torchvision): a CPU-sized default and the CIFAR ResNet-18.

Both end in global average pooling, so no single layer holds most of the parameters;
DEL's global top-α ranking behaves very differently when one big dense layer dominates
(see specs/del.md section 9).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .registry import MODELS


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet: 3x3 stride-1 stem, no max-pool, stages of BasicBlocks, GAP, linear ``fc``."""

    def __init__(self, in_channels: int, num_classes: int, widths: Sequence[int], blocks: Sequence[int], stem_stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stem_stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers = []
        channels = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            stride = 1 if stage == 0 else 2
            stage_blocks = []
            for b in range(count):
                stage_blocks.append(BasicBlock(channels, width, stride if b == 0 else 1))
                channels = width
            layers.append(nn.Sequential(*stage_blocks))
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return self.fc(out)


@MODELS.register("resnet_small", "ResNet-10 shape (stride-2 stem, 4 stages x 1 block, widths 16-128, BN, GAP): the CPU default")
def resnet_small(input_shape: Sequence[int], num_classes: int, width: int = 16, blocks: Sequence[int] = (1, 1, 1, 1), stem_stride: int = 2) -> ResNet:
    return ResNet(input_shape[0], num_classes, [width, 2 * width, 4 * width, 8 * width], list(blocks), stem_stride)


@MODELS.register("resnet18", "CIFAR ResNet-18 (4 stages x 2 blocks, widths 64-512; DEL's paper model) for GPU runs")
def resnet18(input_shape: Sequence[int], num_classes: int, width: int = 64) -> ResNet:
    return ResNet(input_shape[0], num_classes, [width, 2 * width, 4 * width, 8 * width], [2, 2, 2, 2])
