"""A classic CNN whose dense layer dominates the parameter count, and an MLP."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .registry import MODELS


class ClassicCNN(nn.Module):
    """conv-BN-pool x2, then a large fully connected layer: the shape where global DEL masks skew."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, channels: Sequence[int] = (32, 64), hidden: int = 128) -> None:
        super().__init__()
        c_in, height, width = input_shape
        layers: list[nn.Module] = []
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
            c_in, height, width = c_out, height // 2, width // 2
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(c_in * height * width, hidden)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.fc1(torch.flatten(self.features(x), 1))))


class MLP(nn.Module):
    """Fully connected ReLU network on flattened inputs."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (256, 128)) -> None:
        super().__init__()
        sizes = [math.prod(input_shape), *hidden]
        self.hidden = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.fc = nn.Linear(sizes[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.hidden(torch.flatten(x, 1)))


@MODELS.register("cnn", "classic CNN (conv32-conv64, FC128): one dense layer holds most parameters")
def classic_cnn(input_shape: Sequence[int], num_classes: int, channels: Sequence[int] = (32, 64), hidden: int = 128) -> ClassicCNN:
    return ClassicCNN(input_shape, num_classes, channels, hidden)


@MODELS.register("mlp", "multi-layer perceptron on flattened inputs (hidden 256-128)")
def mlp(input_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (256, 128)) -> MLP:
    return MLP(input_shape, num_classes, hidden)
