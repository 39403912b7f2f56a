"""Convolutional networks for images, built from JSON-able configs (safetensors + JSON on disk).

    >>> import torch
    >>> net = build_cnn(default_cnn_config(1, 28, 28, 10))
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])

Two kinds: ``resnet``, a small residual network (stem, stages of basic blocks, global average
pooling), and ``simple_cnn``, two convolutions and a dense layer: a fast baseline. Both expose
``.head``, the final ``nn.Linear``, so transfer learning swaps it for a new task and trains
``backbone_parameters()`` gently (or not at all).

Sized for two CPU cores: an epoch of 8,000 28×28 images takes a few seconds (see
``benchmarks/images``), which is why the default widths are small.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from trainforge.errors import ConfigError

KINDS = ("resnet", "simple_cnn")
# norm "group" (GroupNorm) for DP-SGD: BatchNorm mixes the rows of a batch, so a row's gradient
# is not its own and cannot be clipped alone (runtime.dp_sgd)
RESNET_DEFAULTS: dict[str, Any] = {"widths": [16, 32, 64], "blocks_per_stage": 1,
                                   "dropout": 0.1, "stem_stride": 1, "norm": "batch"}
NORMS = ("batch", "group")
SIMPLE_DEFAULTS: dict[str, Any] = {"widths": [32, 64], "hidden": 128, "dropout": 0.25}
_REQUIRED = ("kind", "in_channels", "n_outputs")
LARGE_SIDE = 48  # from this side on, the stem halves the image: cost grows with pixels


class VisionNet(nn.Module):
    """A network with a replaceable linear ``head`` on top of a feature ``backbone``."""

    head: nn.Linear

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter but the head's: what transfer learning freezes or trains slowly."""
        head = {id(p) for p in self.head.parameters()}
        return (p for p in self.parameters() if id(p) not in head)


def _norm(channels: int, kind: str) -> nn.Module:
    if kind == "group":  # groups of channels, each row normalised alone
        return nn.GroupNorm(math.gcd(8, channels), channels)
    return nn.BatchNorm2d(channels)


def _conv_bn(in_channels: int, out_channels: int, *, stride: int = 1,
             norm: str = "batch") -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        _norm(out_channels, norm))


class BasicBlock(nn.Module):
    """Two 3×3 convolutions plus a shortcut (a 1×1 convolution where the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int,
                 norm: str = "batch") -> None:
        super().__init__()
        self.first = _conv_bn(in_channels, out_channels, stride=stride, norm=norm)
        self.second = _conv_bn(out_channels, out_channels, norm=norm)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                _norm(out_channels, norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.first(x))
        return torch.relu(self.second(out) + self.shortcut(x))


class ResNet(VisionNet):
    """Stem, stages of residual blocks (stride 2 between stages), average pool, dropout, head."""

    def __init__(self, in_channels: int, n_outputs: int, *, widths: list[int],
                 blocks_per_stage: int, dropout: float, stem_stride: int,
                 norm: str = "batch") -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(in_channels, widths[0], stride=stem_stride,
                                           norm=norm), nn.ReLU())
        blocks: list[nn.Module] = []
        previous = widths[0]
        for stage, width in enumerate(widths):
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(previous, width, stride=stride, norm=norm))
                previous = width
        self.stages = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(previous, n_outputs)
        # the last BN of each block starts at zero: every block starts as the identity,
        # which makes the first epochs of a deep stack as easy as a shallow one's
        for module in self.stages:
            if isinstance(module, BasicBlock):
                last = module.second[1]
                if isinstance(last, nn.BatchNorm2d | nn.GroupNorm):
                    nn.init.zeros_(last.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(x)).mean(dim=(2, 3))
        out: torch.Tensor = self.head(self.dropout(features))
        return out


class SimpleCNN(VisionNet):
    """conv-ReLU-pool twice, then a dense layer: the baseline a residual net must beat."""

    def __init__(self, in_channels: int, n_outputs: int, *, widths: list[int], hidden: int,
                 dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for width in widths:
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            previous = width
        self.features = nn.Sequential(*layers)
        # pooling to 4×4 makes the dense layer's size independent of the image size
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(previous * 16, hidden), nn.ReLU(),
                                   nn.Dropout(dropout))
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.dense(self.pool(self.features(x))))
        return out


def _settings(config: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    missing = [k for k in _REQUIRED if k not in config]
    unknown = sorted(set(config) - set(defaults) - set(_REQUIRED))
    if missing or unknown:
        what = f"lacks {missing[0]!r}" if missing else f"has an unknown key {unknown[0]!r}"
        raise ConfigError(f"the network config {what}; a {config.get('kind')} config takes "
                          f"{', '.join([*_REQUIRED, *defaults])}")
    settings = {**defaults, **config}
    widths = [int(w) for w in settings["widths"]]
    if not widths or min(widths) < 1 or int(settings["in_channels"]) < 1 \
            or int(settings["n_outputs"]) < 1 or not 0.0 <= float(settings["dropout"]) < 1.0:
        raise ConfigError(f"the network config {dict(config)} is out of range: widths, "
                          "in_channels and n_outputs must be ≥ 1, dropout in [0, 1)")
    if settings.get("norm", "batch") not in NORMS:
        raise ConfigError(f"the network config's norm {settings['norm']!r} is not known; use "
                          f"one of {', '.join(NORMS)}")
    return {**settings, "widths": widths}


def build_cnn(config: Mapping[str, Any]) -> VisionNet:
    """The network ``config`` describes (see ``default_cnn_config``); weights are random."""
    kind = config.get("kind")
    if kind == "resnet":
        s = _settings(config, RESNET_DEFAULTS)
        return ResNet(int(s["in_channels"]), int(s["n_outputs"]), widths=s["widths"],
                      blocks_per_stage=max(1, int(s["blocks_per_stage"])),
                      dropout=float(s["dropout"]), stem_stride=int(s["stem_stride"]),
                      norm=str(s["norm"]))
    if kind == "simple_cnn":
        s = _settings(config, SIMPLE_DEFAULTS)
        return SimpleCNN(int(s["in_channels"]), int(s["n_outputs"]), widths=s["widths"],
                         hidden=int(s["hidden"]), dropout=float(s["dropout"]))
    raise ConfigError(f"unknown network kind {kind!r} in the network config; use one of "
                      f"{', '.join(KINDS)}")


def default_cnn_config(channels: int, height: int, width: int,
                       n_outputs: int) -> dict[str, Any]:
    """A residual network sized for images of this shape on a CPU.

    Images with a side of ``LARGE_SIDE`` (48) or more get a stride-2 stem, which keeps an epoch
    about as fast as at 28×28.
    """
    stem_stride = 2 if max(height, width) >= LARGE_SIDE else 1
    return {"kind": "resnet", "in_channels": channels, "n_outputs": n_outputs,
            **RESNET_DEFAULTS, "widths": list(RESNET_DEFAULTS["widths"]),
            "stem_stride": stem_stride}
