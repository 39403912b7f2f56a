from __future__ import annotations

import doctest
from collections.abc import Callable

import pytest
import torch

from trainforge.data import image_transforms
from trainforge.data.image_transforms import (
    DEFAULT_POLICY,
    augment,
    channel_stats,
    colour_jitter,
    normalise,
    random_crop,
    random_flip,
    random_rotation,
    to_float,
)
from trainforge.errors import ConfigError

torch.set_num_threads(1)

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
AUGMENTATIONS: dict[str, Augmentation] = {
    "crop": lambda x, g: random_crop(x, 2, g),
    "flip": lambda x, g: random_flip(x, g),
    "rotation": lambda x, g: random_rotation(x, 15, g),
    "jitter": lambda x, g: colour_jitter(x, 0.2, 0.2, g),
    "policy": lambda x, g: augment(x, g, policy={**DEFAULT_POLICY, "flip": 0.5}),
}


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(n: int = 6, channels: int = 3, side: int = 12) -> torch.Tensor:
    return torch.rand(n, channels, side, side, generator=seeded(99))


def l_shape() -> torch.Tensor:
    """An image that is not its own mirror: an L in the top-left corner."""
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 1:6, 1] = 1.0
    image[0, 0, 5, 1:4] = 1.0
    return image


def test_uint8_pixels_become_floats_from_zero_to_one():
    pixels = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    assert to_float(pixels).flatten().tolist() == pytest.approx([0.0, 0.2, 1.0])


def test_channel_stats_are_per_channel():
    images = torch.stack([torch.full((2, 2), 0.5), torch.tensor([[0.0, 1.0], [0.0, 1.0]])])[None]
    mean, std = channel_stats(images)
    assert (mean.tolist(), std.tolist()) == ([0.5, 0.5], [0.0, 0.5])


def test_normalised_channels_have_zero_mean_and_unit_std():
    images = batch()
    mean, std = channel_stats(normalise(images, *channel_stats(images)))
    assert torch.allclose(mean, torch.zeros(3), atol=1e-5) and torch.allclose(std, torch.ones(3))


def test_a_constant_channel_normalises_to_zeros_not_nan():
    images = torch.full((2, 1, 3, 3), 0.7)
    assert normalise(images, *channel_stats(images)).abs().max().item() == 0.0


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_an_augmentation_keeps_shape_and_dtype(name: str):
    out = AUGMENTATIONS[name](batch(), seeded(0))
    assert (out.shape, out.dtype) == (batch().shape, torch.float32)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_an_augmentation_is_the_same_for_the_same_seed(name: str):
    assert AUGMENTATIONS[name](batch(), seeded(7)).equal(AUGMENTATIONS[name](batch(), seeded(7)))


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_an_augmentation_differs_for_another_seed(name: str):
    assert not AUGMENTATIONS[name](batch(), seeded(1)).equal(AUGMENTATIONS[name](batch(), seeded(2)))


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_an_augmentation_leaves_its_input_unchanged(name: str):
    images = batch()
    AUGMENTATIONS[name](images, seeded(0))
    assert images.equal(batch())


def test_a_policy_with_flip_zero_never_mirrors():
    images = l_shape().repeat(64, 1, 1, 1)
    assert augment(images, seeded(0), policy={"flip": 0.0}).equal(images)


def test_flipping_with_probability_one_mirrors_every_image():
    assert random_flip(l_shape(), seeded(0), probability=1.0).equal(l_shape().flip(-1))


def test_a_crop_shifts_a_dot_by_at_most_the_padding():
    dot = torch.zeros(50, 1, 9, 9)
    dot[:, :, 4, 4] = 1.0
    rows, cols = random_crop(dot, 2, seeded(0)).squeeze(1).nonzero()[:, 1:].T
    assert set((rows - 4).tolist()) == {-2, -1, 0, 1, 2} and (cols - 4).abs().max() <= 2


def test_a_rotation_of_zero_degrees_changes_nothing():
    images = batch()
    assert torch.allclose(random_rotation(images, 0.0, seeded(0)), images, atol=1e-5)


def test_a_rotation_moves_the_pixels_of_most_images():
    images = l_shape().repeat(16, 1, 1, 1)
    moved = (random_rotation(images, 30.0, seeded(0)) - images).abs().amax(dim=(1, 2, 3)) > 0.1
    assert moved.sum().item() >= 12


def test_contrast_jitter_keeps_each_images_mean():
    images = batch()
    out = colour_jitter(images, 0.0, 0.5, seeded(0))
    assert torch.allclose(out.mean(dim=(1, 2, 3)), images.mean(dim=(1, 2, 3)), atol=1e-6)


def test_jitter_keeps_the_negative_values_of_a_normalised_batch():
    images = normalise(batch(), *channel_stats(batch()))
    assert colour_jitter(images, 0.1, 0.1, seeded(0)).min().item() < -1.0


def test_an_unknown_policy_key_is_refused_naming_it():
    with pytest.raises(ConfigError, match="'rotate'"):
        augment(batch(), seeded(0), policy={"rotate": 10})


def test_a_flip_probability_above_one_is_refused():
    with pytest.raises(ConfigError, match="'flip' is out of range"):
        augment(batch(), seeded(0), policy={"flip": 2.0})


def test_the_examples_in_the_docstring_run():
    result = doctest.testmod(image_transforms)
    assert (result.failed, result.attempted > 0) == (0, True)
