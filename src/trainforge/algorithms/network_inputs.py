"""What a network reads: raw column values (image files, text) turned into tensors.

Each input kind is fitted on the training values (the image size and pixel statistics; the
tokenizer), kept in the model package as JSON, and applied the same way in training, batch
prediction and serving. torch is imported here only when a network is built or used.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

# decoded training images are kept, so the trials of one search decode each file once
_CACHE_BYTES = 1 << 30


class _DecodedImages:
    """Decoded uint8 images by (path, shape), least recently used dropped past 1 GiB."""

    def __init__(self) -> None:
        self.items: OrderedDict[tuple[str, tuple[int, int, int]], Any] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def decode(self, values: Sequence[Any], shape: tuple[int, int, int]) -> Any:
        import torch

        from trainforge.data.images import decode_images

        channels, height, width = shape
        found: list[Any] = [None] * len(values)
        missing: list[int] = []
        with self.lock:
            for i, value in enumerate(values):
                key = (value, shape) if isinstance(value, str) else None
                if key is not None and key in self.items:
                    self.items.move_to_end(key)
                    found[i] = self.items[key]
                else:
                    missing.append(i)
        if missing:
            decoded = decode_images([values[i] for i in missing], size=(height, width),
                                    channels=channels)
            with self.lock:
                for position, i in enumerate(missing):
                    found[i] = decoded[position]
                    if isinstance(values[i], str):
                        self._keep((values[i], shape), decoded[position])
        if not found:
            return torch.zeros((0, channels, height, width), dtype=torch.uint8)
        return torch.stack(found)

    def _keep(self, key: tuple[str, tuple[int, int, int]], tensor: Any) -> None:
        self.items[key] = tensor
        self.size += tensor.numel()
        while self.size > _CACHE_BYTES and self.items:
            _, dropped = self.items.popitem(last=False)
            self.size -= dropped.numel()


_DECODED = _DecodedImages()


def as_values(X: Any) -> list[Any]:
    """The column of raw values an input reads, whatever shape the preprocessor gave it."""
    array = np.asarray(X, dtype=object)
    if array.ndim == 2:
        array = array[:, 0]
    return list(array.tolist())


class ImageInputs:
    """Image files (paths, or bytes from a request) → normalised float tensors (N, C, H, W)."""

    kind = "image"

    def __init__(self, *, shape: tuple[int, int, int], mean: list[float],
                 std: list[float]) -> None:
        self.shape, self.mean, self.std = shape, mean, std

    @classmethod
    def fit(cls, values: Sequence[Any], *, size: int = 0) -> ImageInputs:
        """``size`` (pixels per side) overrides the inferred training size when > 0."""
        from trainforge.data.image_transforms import channel_stats, to_float
        from trainforge.data.images import infer_image_shape

        channels, height, width = infer_image_shape(list(values))
        if size > 0:
            height = width = int(size)
        shape = (int(channels), int(height), int(width))
        pixels = to_float(_DECODED.decode(list(values), shape))
        mean, std = channel_stats(pixels)
        return cls(shape=shape, mean=[float(m) for m in mean],
                   std=[max(float(s), 1e-3) for s in std])

    def encode(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """Pixels in [0, 1]; the network normalises them itself (its first step), so that
        augmentation works on real pixel values."""
        from trainforge.data.image_transforms import to_float

        return (to_float(_DECODED.decode(list(values), self.shape)),)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.shape), "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ImageInputs:
        shape = tuple(int(v) for v in raw["shape"])
        return cls(shape=(shape[0], shape[1], shape[2]), mean=[float(v) for v in raw["mean"]],
                   std=[float(v) for v in raw["std"]])


def texts_of(values: Sequence[Any]) -> list[str]:
    """Text values as strings: a missing one is the empty text."""
    return _texts(values)


def _texts(values: Sequence[Any]) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]


class TokenInputs:
    """Text → (token ids, mask) with a tokenizer learned on the training text."""

    kind = "tokens"

    def __init__(self, *, tokenizer_json: str, max_length: int) -> None:
        from trainforge.data.tokens import Tokenizer

        self.tokenizer_json, self.max_length = tokenizer_json, max_length
        self.tokenizer = Tokenizer.from_json(tokenizer_json)

    @classmethod
    def fit(cls, values: Sequence[Any], *, vocab_size: int, max_length: int = 0) -> TokenInputs:
        from trainforge.data.tokens import Tokenizer

        texts = _texts(values)
        tokenizer = Tokenizer.learn(texts, vocab_size=vocab_size)
        length = max_length or tokenizer.length_for(texts)
        return cls(tokenizer_json=tokenizer.to_json(), max_length=int(length))

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.vocab_size)

    def encode(self, values: Sequence[Any]) -> tuple[Any, ...]:
        import torch

        ids, mask = self.tokenizer.encode(_texts(values), max_length=self.max_length)
        return (torch.from_numpy(np.asarray(ids, dtype=np.int64)),
                torch.from_numpy(np.asarray(mask, dtype=bool)))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokenizer": self.tokenizer_json,
                "max_length": self.max_length}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TokenInputs:
        return cls(tokenizer_json=str(raw["tokenizer"]), max_length=int(raw["max_length"]))


class PretrainedTokenInputs:
    """Text → (token ids, mask) with the pretrained MiniLM's own WordPiece vocabulary."""

    kind = "minilm_tokens"
    MAX_LENGTH = 128  # MiniLM was trained on 128 tokens; longer costs quadratically more

    def __init__(self, *, max_length: int) -> None:
        from trainforge.algorithms.minilm import MiniLMTokenizer

        self.max_length = max_length
        self.tokenizer = MiniLMTokenizer()

    @classmethod
    def fit(cls, values: Sequence[Any], *, max_length: int = 0) -> PretrainedTokenInputs:
        if max_length:
            return cls(max_length=int(max_length))
        probe = cls(max_length=cls.MAX_LENGTH)
        _, mask = probe.tokenizer.encode(_texts(values), max_length=cls.MAX_LENGTH)
        lengths = np.asarray(mask).sum(axis=1)
        covering = int(np.quantile(lengths, 0.98)) if len(lengths) else 16
        probe.max_length = max(16, min(cls.MAX_LENGTH, covering))
        return probe

    def encode(self, values: Sequence[Any]) -> tuple[Any, ...]:
        import torch

        ids, mask = self.encode_arrays(_texts(values))
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def encode_arrays(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = self.tokenizer.encode(list(texts), max_length=self.max_length)
        return np.asarray(ids, dtype=np.int64), np.asarray(mask, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "max_length": self.max_length}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PretrainedTokenInputs:
        return cls(max_length=int(raw["max_length"]))


Inputs = ImageInputs | TokenInputs | PretrainedTokenInputs


def inputs_from_dict(raw: dict[str, Any]) -> Inputs:
    kinds: dict[str, Any] = {"image": ImageInputs, "tokens": TokenInputs,
                             "minilm_tokens": PretrainedTokenInputs}
    return kinds[str(raw["kind"])].from_dict(raw)  # type: ignore[no-any-return]

