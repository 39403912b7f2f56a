"""Integrated gradients: which pixels or words a network's prediction rests on."""

from __future__ import annotations

import numpy as np
import pytest
from tests.algorithms.test_network_contract import _fitted

from trainforge.algorithms.network import NetworkModel
from trainforge.algorithms.network_explanations import image_attributions, text_attributions
from trainforge.algorithms.network_inputs import ImageInputs
from trainforge.algorithms.vision import build_cnn, default_cnn_config
from trainforge.data.task import TaskKind

torch = pytest.importorskip("torch")


def _images(n_images: int) -> list[bytes]:
    from tests.algorithms.test_network_contract import _png

    rng = np.random.default_rng(0)
    return [_png(rng.integers(0, 255, size=(8, 8))) for _ in range(n_images)]


def _network(module: object) -> NetworkModel:
    """A classifier of 8×8 grey images whose network is ``module``."""
    network = NetworkModel(architecture="cnn", task_kind="binary", n_classes=2)
    network.module_ = module
    network.inputs_ = ImageInputs(shape=(1, 8, 8), mean=[0.5], std=[0.25])
    return network


def test_attributions_fall_only_on_the_pixels_the_network_reads():
    reads_one_pixel = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    with torch.no_grad():
        reads_one_pixel[1].weight.zero_()
        reads_one_pixel[1].weight[1, 9] = 3.0  # row 1, column 1
    (explained,) = image_attributions(_network(reads_one_pixel), _images(1))
    assert np.flatnonzero(explained.pixels.ravel()).tolist() == [9]


def test_image_attributions_add_up_to_the_scores_move_from_a_black_image():
    torch.manual_seed(0)
    explained = image_attributions(_network(build_cnn(default_cnn_config(1, 8, 8, 2))),
                                   _images(3), steps=64)
    assert max(a.gap for a in explained) < 1e-2 * max(1.0, max(abs(a.score) for a in explained))
    assert explained[0].pixels.shape == (8, 8)


@pytest.mark.slow
def test_a_text_networks_top_words_are_the_words_that_carry_its_class():
    network, texts = _fitted("gru", TaskKind.MULTICLASS)
    explained = text_attributions(network, list(texts[:8]))
    assert max(a.gap for a in explained) < 5e-2
    assert {a.top_tokens(1)[0][0] for a in explained} & {"alpha", "bravo", "charlie"}
