"""A subword tokenizer learned on the training text, for networks trained from scratch.

Text networks need a fixed vocabulary of integer ids. Learning it on the training split (byte-pair
encoding, via the HF `tokenizers` library) keeps rare words as pieces instead of one [UNK], and the
whole tokenizer serialises to JSON, so a model package stores it without pickle. BPE rather than
WordPiece or Unigram because its trainer is deterministic (theirs break ties by hash order, so the
same text gave a different vocabulary on each run; measured with tokenizers 0.23).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, normalizers, pre_tokenizers, processors, trainers

from trainforge.errors import ConfigError, PackageCorrupt

PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
SPECIAL_TOKENS = (PAD, UNK, CLS)  # in id order: [PAD]=0 so zero-padding is padding
FORMAT_VERSION = 1
TOKENIZER_FILE = "tokenizer.json"  # the name a model package stores `to_json()` under


def _texts(texts: Sequence[str | None]) -> list[str]:
    # None and NaN-like cells become "" so a missing message encodes to [CLS] instead of crashing
    return [t if isinstance(t, str) else "" for t in texts]


def _blank() -> HFTokenizer:
    tokenizer = HFTokenizer(models.BPE(unk_token=UNK))
    # NFKC folds look-alike code points (full-width letters, ligatures); accents are kept because
    # they carry meaning in many languages; CJK characters become one token each
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.NFKC(),
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                   strip_accents=False, lowercase=True),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A", special_tokens=[(CLS, SPECIAL_TOKENS.index(CLS))])
    return tokenizer


class Tokenizer:
    """Text → padded int64 ids and a mask; [PAD]=0, [UNK]=1, [CLS]=2 first in every row.

    >>> tok = Tokenizer.learn(["free prize now", "see you at lunch"], vocab_size=100)
    >>> ids, mask = tok.encode(["free lunch", None], max_length=4)
    >>> ids.shape, ids[1].tolist(), mask[1].tolist()
    ((2, 4), [2, 0, 0, 0], [True, False, False, False])
    """

    def __init__(self, hf_tokenizer: HFTokenizer) -> None:
        self._hf = hf_tokenizer

    @classmethod
    def learn(cls, texts: Sequence[str | None], *, vocab_size: int = 8000) -> Tokenizer:
        """Learn a BPE vocabulary of at most `vocab_size` tokens from `texts`."""
        if vocab_size < len(SPECIAL_TOKENS) + 1:
            raise ConfigError(f"vocab_size={vocab_size} leaves no room for words beside the "
                              f"{len(SPECIAL_TOKENS)} special tokens; use at least 100")
        tokenizer = _blank()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                       special_tokens=list(SPECIAL_TOKENS), show_progress=False)
        tokenizer.train_from_iterator(_texts(texts), trainer=trainer)
        return cls(tokenizer)

    @property
    def vocab_size(self) -> int:
        """The number of ids (the embedding table's row count)."""
        return int(self._hf.get_vocab_size(with_added_tokens=True))

    def token_text(self, token_id: int) -> str:
        """The token an id stands for ("" for an id outside the vocabulary)."""
        return str(self._hf.id_to_token(token_id) or "")

    def token_ids(self, texts: Sequence[str | None]) -> list[list[int]]:
        """Unpadded, untruncated ids of each text, [CLS] first."""
        return [e.ids for e in self._hf.encode_batch(_texts(texts))]

    def encode(self, texts: Sequence[str | None], *,
               max_length: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Ids (N, max_length) right-padded with 0, and the mask (True on real tokens).

        Texts longer than `max_length` keep their first tokens: for short messages the start
        carries the subject.
        """
        if max_length < 1:
            raise ConfigError(f"max_length={max_length} must be at least 1 (room for [CLS])")
        rows = self.token_ids(texts)
        ids = np.zeros((len(rows), max_length), dtype=np.int64)
        mask = np.zeros((len(rows), max_length), dtype=np.bool_)
        for i, row in enumerate(rows):
            kept = row[:max_length]
            ids[i, :len(kept)] = kept
            mask[i, :len(kept)] = True
        return ids, mask

    def length_for(self, texts: Sequence[str | None], quantile: float = 0.95,
                   cap: int = 256) -> int:
        """A max_length covering `quantile` of the texts, at most `cap` (padding costs time)."""
        if not 0.0 < quantile <= 1.0:
            raise ConfigError(f"quantile={quantile} must be in (0, 1]")
        lengths = [len(row) for row in self.token_ids(texts)] or [1]
        # the shortest length that fits at least `quantile` of the texts whole
        covering = int(np.quantile(np.asarray(lengths), quantile, method="inverted_cdf"))
        return max(1, min(cap, covering))

    def to_json(self) -> str:
        """The whole tokenizer (vocabulary, normaliser, rules) as JSON text."""
        return json.dumps({"format_version": FORMAT_VERSION,
                           "tokenizer": json.loads(self._hf.to_str())})

    @classmethod
    def from_json(cls, text: str) -> Tokenizer:
        """Rebuild a tokenizer written by `to_json`."""
        try:
            stored = json.loads(text)
            version = stored["format_version"]
            body = stored["tokenizer"]
        except (ValueError, KeyError, TypeError) as error:
            raise PackageCorrupt(TOKENIZER_FILE, f"is not a trainforge tokenizer ({error})") \
                from error
        if version != FORMAT_VERSION:
            raise PackageCorrupt(TOKENIZER_FILE, f"has format_version {version!r} but this "
                                 f"version of trainforge reads {FORMAT_VERSION}")
        return cls(HFTokenizer.from_str(json.dumps(body)))
