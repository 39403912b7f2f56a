"""MiniLM's frozen layers, run once per text for the whole search.

Every MiniLM candidate (frozen with a head, or its top layers fine-tuned) and every refit of
one reads the same pretrained lower layers. Their output for a text never changes, so it is
computed once: the states entering layer ``layer``, trimmed to the text's own tokens (with
the attention mask, padding never changes a real token's state), kept up to a memory cap.
Texts are run in batches of similar length, so short messages are not padded to long ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

CACHE_BYTES = 2 << 30  # float32 states: about 75 KB for a 50-token text
BATCH = 64


class FrozenStates:
    """States by (text, max_length, layer), least recently used dropped past the cap."""

    def __init__(self) -> None:
        self.items: OrderedDict[tuple[str, int, int], Any] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def states(self, encoder: Any, texts: Sequence[str], ids: np.ndarray, mask: np.ndarray, *,
               max_length: int, layer: int, keep: bool = True) -> tuple[Any, Any]:
        """Padded states (N, L, width) entering ``layer`` and the mask (N, L), L = max_length."""
        import torch

        lengths = mask.sum(axis=1)
        found: list[Any] = [None] * len(texts)
        with self.lock:
            for i, text in enumerate(texts):
                key = (text, max_length, layer)
                if keep and key in self.items:
                    self.items.move_to_end(key)
                    found[i] = self.items[key]
        missing = [i for i, f in enumerate(found) if f is None]
        order = sorted(missing, key=lambda i: int(lengths[i]))
        with torch.inference_mode():
            for start in range(0, len(order), BATCH):
                rows = order[start:start + BATCH]
                width = max(1, int(lengths[rows].max()))
                states = encoder.hidden_states_at(layer, torch.from_numpy(ids[rows, :width]),
                                                  torch.from_numpy(mask[rows, :width]))
                for position, i in enumerate(rows):
                    found[i] = states[position, :int(lengths[i])].clone()
                    if keep:
                        self._keep((texts[i], max_length, layer), found[i])
        out = torch.zeros((len(texts), max_length, encoder.shape.hidden_size))
        for i, state in enumerate(found):
            out[i, :state.shape[0]] = state
        return out, torch.from_numpy(mask)

    def _keep(self, key: tuple[str, int, int], tensor: Any) -> None:
        with self.lock:
            self.items[key] = tensor
            self.size += tensor.numel() * 4
            while self.size > CACHE_BYTES and self.items:
                _, dropped = self.items.popitem(last=False)
                self.size -= dropped.numel() * 4


FROZEN = FrozenStates()
