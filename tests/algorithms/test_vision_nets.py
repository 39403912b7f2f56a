from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from trainforge.algorithms import vision
from trainforge.algorithms.vision import build_cnn, default_cnn_config
from trainforge.errors import ConfigError

torch.set_num_threads(1)

CONFIGS: dict[str, dict[str, Any]] = {
    "resnet": default_cnn_config(1, 28, 28, 10),
    "resnet, two blocks per stage": {"kind": "resnet", "in_channels": 3, "n_outputs": 10,
                                     "widths": [8, 16], "blocks_per_stage": 2},
    "simple_cnn": {"kind": "simple_cnn", "in_channels": 3, "n_outputs": 10},
}


def images_for(config: dict[str, Any], n: int = 4, height: int = 28, width: int = 28
               ) -> torch.Tensor:
    return torch.rand(n, config["in_channels"], height, width, generator=torch.Generator()
                      .manual_seed(0))


def stripes(n: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy horizontal (label 0) or vertical (label 1) stripes at random phases."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    phase = torch.randint(0, 4, (n, 1, 1), generator=g)
    lines = ((torch.arange(12).view(1, 12) + phase) % 4 < 2).float().expand(n, 12, 12)
    images = torch.where(labels.view(n, 1, 1) == 0, lines, lines.transpose(1, 2))
    return (images + 0.3 * torch.randn(n, 12, 12, generator=g)).unsqueeze(1), labels


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_network_gives_one_score_per_class_and_image(name: str):
    config = CONFIGS[name]
    assert build_cnn(config)(images_for(config)).shape == (4, 10)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_network_takes_images_of_other_sizes(name: str):
    config = CONFIGS[name]
    assert build_cnn(config)(images_for(config, height=40, width=30)).shape == (4, 10)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_replaced_head_sets_the_number_of_outputs(name: str):
    net = build_cnn(CONFIGS[name])
    net.head = nn.Linear(net.head.in_features, 3)
    assert net(images_for(CONFIGS[name])).shape == (4, 3)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_backbone_parameters_are_all_but_the_head(name: str):
    net = build_cnn(CONFIGS[name])
    backbone = {id(p) for p in net.backbone_parameters()}
    head = {id(p) for p in net.head.parameters()}
    assert (backbone & head, backbone | head) == (set(), {id(p) for p in net.parameters()})


def test_a_config_survives_json_and_weights_survive_safetensors(tmp_path: Path):
    config = json.loads(json.dumps(default_cnn_config(3, 32, 32, 5)))
    net = build_cnn(config).eval()
    save_file(net.state_dict(), tmp_path / "weights.safetensors")
    copy = build_cnn(config).eval()
    copy.load_state_dict(load_file(tmp_path / "weights.safetensors"))
    images = images_for(config, height=32, width=32)
    assert copy(images).equal(net(images))


def test_large_images_get_a_stem_that_halves_them():
    assert (default_cnn_config(3, 64, 64, 2)["stem_stride"],
            default_cnn_config(1, 28, 28, 2)["stem_stride"]) == (2, 1)


def test_an_unknown_network_kind_is_refused_naming_the_kinds():
    with pytest.raises(ConfigError, match="'vit'.*resnet, simple_cnn"):
        build_cnn({"kind": "vit", "in_channels": 1, "n_outputs": 2})


def test_an_unknown_config_key_is_refused_naming_it():
    with pytest.raises(ConfigError, match="unknown key 'width'"):
        build_cnn({"kind": "resnet", "in_channels": 1, "n_outputs": 2, "width": 8})


def test_a_tiny_cnn_learns_to_tell_horizontal_from_vertical_stripes():
    torch.manual_seed(0)
    net = build_cnn({"kind": "resnet", "in_channels": 1, "n_outputs": 2, "widths": [8, 16],
                     "dropout": 0.0})
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    images, labels = stripes(256, seed=1)
    for start in range(0, 256 * 3, 32):
        rows = torch.arange(start, start + 32) % 256
        loss = nn.functional.cross_entropy(net(images[rows]), labels[rows])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    test_images, test_labels = stripes(200, seed=2)
    with torch.no_grad():
        accuracy = (net.eval()(test_images).argmax(1) == test_labels).float().mean().item()
    assert accuracy >= 0.95


def test_the_examples_in_the_docstring_run():
    result = doctest.testmod(vision)
    assert (result.failed, result.attempted > 0) == (0, True)
