"""Pure torch transforms on image batches (N, C, H, W): scaling, normalising, augmenting.

    >>> import torch
    >>> batch = to_float(torch.full((2, 1, 4, 4), 255, dtype=torch.uint8))
    >>> mean, std = channel_stats(batch)
    >>> normalise(batch, mean, std).shape
    torch.Size([2, 1, 4, 4])

Augmentations take float batches, in [0, 1] or already normalised (none clamps to a range),
and a ``torch.Generator``: the same generator state gives the same batch, so a seeded run is
reproducible. None changes its input. Statistics are computed on the training split and applied everywhere (training,
batch prediction, serving), as for tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from trainforge.errors import ConfigError

POLICY_KEYS = ("crop_padding", "flip", "rotation_deg", "brightness", "contrast")
# safe for any image: no flip, since a flipped digit or letter is another symbol (or none)
DEFAULT_POLICY: dict[str, float] = {"crop_padding": 2, "flip": 0.0, "rotation_deg": 10,
                                    "brightness": 0.1, "contrast": 0.1}
MIN_STD = 1e-6  # a constant channel is divided by this, not by zero


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 as float32 in [0, 1]."""
    return batch.to(torch.float32) / 255.0


def channel_stats(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation, each of shape (C,), of a float batch."""
    flat = batch.transpose(0, 1).reshape(batch.shape[1], -1).to(torch.float64)
    return flat.mean(dim=1).float(), flat.std(dim=1, correction=0).float()


def normalise(batch: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(batch - mean) / std per channel, with statistics from ``channel_stats``."""
    shape = (1, -1, 1, 1)
    return (batch - mean.view(shape)) / std.clamp_min(MIN_STD).view(shape)


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


def random_crop(batch: torch.Tensor, padding: int, g: torch.Generator) -> torch.Tensor:
    """Shifts each image by up to ``padding`` pixels: reflect-pad, then crop back to size."""
    n, _, height, width = batch.shape
    # reflection needs padding smaller than the side; tiny images get a smaller shift
    padding = min(int(padding), height - 1, width - 1)
    if padding <= 0 or n == 0:
        return batch.clone()
    padded = F.pad(batch, (padding,) * 4, mode="reflect")
    top = torch.randint(0, 2 * padding + 1, (n,), generator=g)
    left = torch.randint(0, 2 * padding + 1, (n,), generator=g)
    rows = (top[:, None] + torch.arange(height))[:, :, None]  # (N, H, 1)
    cols = (left[:, None] + torch.arange(width))[:, None, :]  # (N, 1, W)
    picked = padded[torch.arange(n)[:, None, None], :, rows, cols]  # (N, H, W, C)
    return picked.permute(0, 3, 1, 2).contiguous()


def random_flip(batch: torch.Tensor, g: torch.Generator, *,
                probability: float = 0.5) -> torch.Tensor:
    """Mirrors each image left-right with ``probability``."""
    flip = torch.rand(batch.shape[0], generator=g) < probability
    return torch.where(flip[:, None, None, None], batch.flip(-1), batch)


def random_rotation(batch: torch.Tensor, max_degrees: float, g: torch.Generator) -> torch.Tensor:
    """Rotates each image about its centre by an angle drawn from ±``max_degrees``."""
    n = batch.shape[0]
    angles = _uniform(n, -math.radians(max_degrees), math.radians(max_degrees), g)
    cos, sin = torch.cos(angles), torch.sin(angles)
    zeros = torch.zeros(n)
    theta = torch.stack([torch.stack([cos, -sin, zeros], dim=1),
                         torch.stack([sin, cos, zeros], dim=1)], dim=1).to(batch.dtype)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    # border: corners take the edge colour (the background, usually) instead of black
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def colour_jitter(batch: torch.Tensor, brightness: float, contrast: float,
                  g: torch.Generator) -> torch.Tensor:
    """Scales each image's brightness by 1±``brightness`` and contrast by 1±``contrast``.

    Values are not clamped to [0, 1]: the batch may be normalised already, and a network
    needs no displayable pixels.
    """
    n = batch.shape[0]
    bright = _uniform(n, 1.0 - brightness, 1.0 + brightness, g).view(-1, 1, 1, 1)
    contrasted = _uniform(n, 1.0 - contrast, 1.0 + contrast, g).view(-1, 1, 1, 1)
    out = batch * bright
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    return (out - mean) * contrasted + mean


def _check_policy(policy: Mapping[str, float]) -> None:
    unknown = sorted(set(policy) - set(POLICY_KEYS))
    if unknown:
        raise ConfigError(f"unknown augmentation {unknown[0]!r} in the policy; use "
                          f"{', '.join(POLICY_KEYS)}")
    negative = [k for k in POLICY_KEYS if float(policy.get(k, 0.0)) < 0]
    if negative or not 0.0 <= float(policy.get("flip", 0.0)) <= 1.0:
        raise ConfigError(f"augmentation {(negative or ['flip'])[0]!r} is out of range: amounts "
                          "are ≥ 0 and flip is a probability in [0, 1]")


def augment(batch: torch.Tensor, g: torch.Generator, *,
            policy: Mapping[str, float]) -> torch.Tensor:
    """Applies the augmentations ``policy`` asks for; a missing or zero amount skips one.

    A policy looks like ``DEFAULT_POLICY``; give ``flip`` > 0 only where a mirrored image is
    still the same class (clothing, animals), never for digits or text.
    """
    _check_policy(policy)
    out = batch
    if policy.get("crop_padding", 0):
        out = random_crop(out, int(policy["crop_padding"]), g)
    if policy.get("flip", 0.0):
        out = random_flip(out, g, probability=float(policy["flip"]))
    if policy.get("rotation_deg", 0.0):
        out = random_rotation(out, float(policy["rotation_deg"]), g)
    if policy.get("brightness", 0.0) or policy.get("contrast", 0.0):
        out = colour_jitter(out, float(policy.get("brightness", 0.0)),
                            float(policy.get("contrast", 0.0)), g)
    return out if out is not batch else batch.clone()
