"""Text networks from scratch: shapes, masking, a replaceable head, and that they learn."""

from __future__ import annotations

import doctest
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from trainforge.algorithms import sequence
from trainforge.algorithms.sequence import build_text_network, default_text_config
from trainforge.errors import ConfigError

torch.set_num_threads(1)
SMALL = {"gru": {"embedding_dim": 16, "hidden": 16},
         "lstm": {"embedding_dim": 16, "hidden": 16, "cell": "lstm"},
         "transformer": {"d_model": 16, "heads": 2, "ff": 32}}
VARIANTS = sorted(SMALL)


def _net(variant: str, *, n_outputs: int = 3, **overrides: Any) -> sequence.TextNetwork:
    kind = "gru" if variant == "lstm" else variant
    config = default_text_config(kind, vocab_size=30, n_outputs=n_outputs, max_length=16)
    torch.manual_seed(0)
    return build_text_network({**config, **SMALL[variant], **overrides}).eval()


def _batch() -> tuple[Tensor, Tensor]:
    """Four texts of 8, 5, 1 and 3 tokens, right-padded with 0."""
    lengths = torch.tensor([8, 5, 1, 3])
    mask = torch.arange(8)[None, :] < lengths[:, None]
    ids = torch.randint(3, 30, (4, 8), generator=torch.Generator().manual_seed(1))
    return ids.masked_fill(~mask, 0), mask


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_network_gives_one_row_of_outputs_per_text(variant: str):
    assert _net(variant, n_outputs=3)(*_batch()).shape == (4, 3)


@pytest.mark.parametrize("variant", VARIANTS)
def test_more_padding_does_not_change_the_output(variant: str):
    ids, mask = _batch()
    longer_ids = torch.cat([ids, torch.zeros(4, 5, dtype=torch.long)], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(4, 5, dtype=torch.bool)], dim=1)
    net = _net(variant)
    torch.testing.assert_close(net(longer_ids, longer_mask), net(ids, mask))


@pytest.mark.parametrize("variant", VARIANTS)
def test_ids_under_the_mask_are_ignored(variant: str):
    ids, mask = _batch()
    net = _net(variant)
    torch.testing.assert_close(net(ids.masked_fill(~mask, 7), mask), net(ids, mask))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_text_with_no_real_tokens_gives_finite_outputs(variant: str):
    ids, mask = _batch()
    mask[2] = False
    assert torch.isfinite(_net(variant)(ids, mask)).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_replaced_head_sets_the_number_of_outputs(variant: str):
    net = _net(variant, n_outputs=3)
    net.head = nn.Linear(net.head.in_features, 5)
    assert net(*_batch()).shape == (4, 5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_backbone_parameters_are_all_parameters_but_the_heads(variant: str):
    net = _net(variant)
    backbone = {id(p) for p in net.backbone_parameters()}
    head = {id(p) for p in net.head.parameters()}
    assert backbone | head == {id(p) for p in net.parameters()}
    assert not backbone & head


def test_a_transformer_refuses_texts_longer_than_its_positions():
    ids = torch.ones(1, 17, dtype=torch.long)
    with pytest.raises(ConfigError, match="max_length≤16"):
        _net("transformer")(ids, ids.bool())


def test_an_unknown_kind_is_refused_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"'cnn'.*\['gru', 'transformer'\]"):
        default_text_config("cnn", vocab_size=30, n_outputs=2, max_length=8)


def test_an_unknown_config_key_is_refused():
    with pytest.raises(ConfigError, match=r"unknown keys \['hiden'\]"):
        _net("gru", hiden=4)


def test_a_config_without_vocab_size_is_refused():
    with pytest.raises(ConfigError, match="lacks"):
        build_text_network({"kind": "gru", "n_outputs": 2, "max_length": 8})


def _contains_word_task(n_texts: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Texts of 2–10 random tokens; the label says whether token 5 occurs."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(6, 30, (n_texts, 10), generator=generator)
    lengths = torch.randint(2, 11, (n_texts,), generator=generator)
    labels = torch.arange(n_texts) % 2
    where = (torch.rand(n_texts, generator=generator) * lengths).long()
    ids[labels == 1, where[labels == 1]] = 5
    mask = torch.arange(10)[None, :] < lengths[:, None]
    return ids.masked_fill(~mask, 0), mask, labels


@pytest.mark.slow
def test_a_gru_learns_whether_a_text_contains_a_word():
    ids, mask, labels = _contains_word_task(256, seed=0)
    net = _net("gru", n_outputs=2).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(60):
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(ids, mask), labels).backward()
        optimiser.step()
    test_ids, test_mask, test_labels = _contains_word_task(200, seed=1)
    accuracy = (net.eval()(test_ids, test_mask).argmax(dim=1) == test_labels).float().mean()
    assert accuracy > 0.95


def test_the_docstring_example_runs():
    assert doctest.testmod(sequence).failed == 0
