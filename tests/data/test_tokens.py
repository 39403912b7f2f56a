"""The learned tokenizer: fixed-shape ids and masks, stable across runs and through JSON."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

from trainforge.data import tokens
from trainforge.data.tokens import Tokenizer
from trainforge.errors import ConfigError, PackageCorrupt

# a few real-looking messages, repeated so that pairs reach the trainer's min_frequency of 2
TEXTS = [
    "Free entry in 2 a weekly competition to win FA Cup final tickets",
    "Ok lar... Joking wif u oni...",
    "WINNER!! You have been selected to receive a £900 prize reward!",
    "I'm gonna be home soon and i don't want to talk about this stuff anymore",
    "Café au lait à midi? Très bien.",
    "新年快乐 see you tomorrow",
    "Had a great time 😀 thanks",
] * 3


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.learn(TEXTS, vocab_size=300)


def test_encode_gives_int64_ids_and_a_bool_mask_of_the_requested_shape(tokenizer: Tokenizer):
    ids, mask = tokenizer.encode(TEXTS[:4], max_length=9)
    assert (ids.shape, ids.dtype, mask.shape, mask.dtype) == ((4, 9), np.int64, (4, 9), np.bool_)


def test_every_row_starts_with_cls_and_pads_with_zero(tokenizer: Tokenizer):
    ids, mask = tokenizer.encode(["ok", TEXTS[0]], max_length=30)
    assert ids[:, 0].tolist() == [2, 2]
    assert (ids[~mask] == 0).all()


def test_long_texts_are_cut_to_max_length(tokenizer: Tokenizer):
    _, mask = tokenizer.encode([TEXTS[3]], max_length=5)
    assert mask.tolist() == [[True] * 5]


def test_empty_and_missing_texts_encode_to_cls_alone(tokenizer: Tokenizer):
    ids, mask = tokenizer.encode(["", None], max_length=4)
    assert ids.tolist() == [[2, 0, 0, 0], [2, 0, 0, 0]]
    assert mask.sum(axis=1).tolist() == [1, 1]


def test_accented_chinese_and_emoji_text_keeps_its_known_pieces(tokenizer: Tokenizer):
    ids, mask = tokenizer.encode(["café 新年 😀"], max_length=12)
    assert (ids[mask] != 1).all()  # all were seen in training: none is [UNK]


def test_characters_never_seen_become_unk_instead_of_failing(tokenizer: Tokenizer):
    ids, mask = tokenizer.encode(["🦜"], max_length=4)
    assert ids[mask].tolist() == [2, 1]


def test_text_is_lower_cased_and_unicode_normalised(tokenizer: Tokenizer):
    # "ＦＲＥＥ" is full-width: NFKC folds it to "FREE", lower-casing to "free"
    assert (tokenizer.encode(["ＦＲＥＥ Entry"], max_length=8)[0]
            == tokenizer.encode(["free entry"], max_length=8)[0]).all()


def test_learning_twice_on_the_same_text_gives_the_same_tokenizer():
    assert (Tokenizer.learn(TEXTS, vocab_size=300).to_json()
            == Tokenizer.learn(TEXTS, vocab_size=300).to_json())


def test_vocab_size_bounds_the_ids(tokenizer: Tokenizer):
    ids, _ = tokenizer.encode(TEXTS, max_length=40)
    assert tokenizer.vocab_size <= 300
    assert ids.max() < tokenizer.vocab_size


def test_a_tokenizer_read_back_from_json_encodes_identically(tokenizer: Tokenizer):
    again = Tokenizer.from_json(tokenizer.to_json())
    expected, _ = tokenizer.encode(TEXTS, max_length=20)
    assert (again.encode(TEXTS, max_length=20)[0] == expected).all()


def test_json_from_a_newer_format_is_refused_saying_to_upgrade(tokenizer: Tokenizer):
    stored = json.loads(tokenizer.to_json())
    stored["format_version"] = 99
    with pytest.raises(PackageCorrupt, match="format_version 99"):
        Tokenizer.from_json(json.dumps(stored))


def test_json_that_is_not_a_tokenizer_is_refused():
    with pytest.raises(PackageCorrupt, match="not a trainforge tokenizer"):
        Tokenizer.from_json('{"vocab": []}')


def test_length_for_covers_the_requested_share_of_texts(tokenizer: Tokenizer):
    texts = ["a"] * 9 + [" ".join(["weekly"] * 50)]
    assert tokenizer.length_for(texts, quantile=0.9) == 2  # [CLS] a
    assert tokenizer.length_for(texts, quantile=1.0) == 51


def test_length_for_never_exceeds_the_cap(tokenizer: Tokenizer):
    assert tokenizer.length_for([" ".join(["weekly"] * 50)], cap=16) == 16


def test_a_vocabulary_too_small_for_the_special_tokens_is_refused():
    with pytest.raises(ConfigError, match="vocab_size=3"):
        Tokenizer.learn(TEXTS, vocab_size=3)


def test_the_docstring_example_runs():
    assert doctest.testmod(tokens).failed == 0
