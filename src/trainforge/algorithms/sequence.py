"""Text networks trained from scratch on token ids: a (bi)GRU/LSTM and a small transformer.

Both read `(ids, mask)` from `trainforge.data.tokens.Tokenizer.encode` (right-padded, [PAD]=0)
and end in a linear `.head` on a pooled vector, so the training loop can swap the head, give the
backbone its own learning rate (`backbone_parameters()`), and a model package can rebuild the
network from its JSON config alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from trainforge.errors import ConfigError

GRU_DEFAULTS: dict[str, Any] = {"embedding_dim": 128, "hidden": 128, "layers": 1,
                                "bidirectional": True, "dropout": 0.2, "cell": "gru"}
TRANSFORMER_DEFAULTS: dict[str, Any] = {"d_model": 128, "heads": 4, "layers": 2, "ff": 256,
                                        "dropout": 0.1}
REQUIRED = ("kind", "vocab_size", "n_outputs", "max_length")
KINDS = {"gru": GRU_DEFAULTS, "transformer": TRANSFORMER_DEFAULTS}


class TextNetwork(nn.Module):
    """What every text network offers the training loop: a replaceable head and its backbone."""

    head: nn.Linear

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the head's (fine-tuning gives them a smaller learning rate)."""
        in_head = {id(p) for p in self.head.parameters()}
        return [p for p in self.parameters() if id(p) not in in_head]


def masked_mean(states: Tensor, mask: Tensor) -> Tensor:
    """Mean over the real tokens only; a row with none gives zeros, not NaN."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def masked_max(states: Tensor, mask: Tensor) -> Tensor:
    """Max over the real tokens only; a row with none gives zeros, not -inf."""
    filled = states.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
    return torch.where(torch.isinf(filled), torch.zeros_like(filled), filled)


class RecurrentTextNet(TextNetwork):
    """Embedding → (bi)GRU or LSTM over the packed sequence → mean+max pool → dropout → head.

    Packing makes the recurrence stop at each text's last real token, so padding never reaches
    the states (the backward direction of a bidirectional cell starts at the true end).
    """

    def __init__(self, *, vocab_size: int, n_outputs: int, embedding_dim: int, hidden: int,
                 layers: int, bidirectional: bool, dropout: float, cell: str) -> None:
        super().__init__()
        cells: dict[str, type[nn.GRU | nn.LSTM]] = {"gru": nn.GRU, "lstm": nn.LSTM}
        if cell not in cells:
            raise ConfigError(f"text network cell {cell!r} is not known; use 'gru' or 'lstm'")
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        # inter-layer dropout only exists between stacked layers (torch warns otherwise)
        self.rnn = cells[cell](embedding_dim, hidden, num_layers=layers, batch_first=True,
                               bidirectional=bidirectional,
                               dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        width = hidden * (2 if bidirectional else 1)
        self.head = nn.Linear(2 * width, n_outputs)  # 2×: mean and max pooled side by side

    def pooled(self, ids: Tensor, mask: Tensor) -> Tensor:
        """The (N, features) vector the head reads."""
        lengths = mask.sum(dim=1).clamp(min=1).cpu()  # pack needs ≥1 step even for empty rows
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, _ = self.rnn(packed)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        return torch.cat([masked_mean(states, mask), masked_max(states, mask)], dim=1)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        logits: Tensor = self.head(self.dropout(self.pooled(ids, mask)))
        return logits


class TransformerTextNet(TextNetwork):
    """Token + learned position embeddings → pre-norm transformer encoder → masked mean → head."""

    def __init__(self, *, vocab_size: int, n_outputs: int, d_model: int, heads: int,
                 layers: int, ff: int, max_length: int, dropout: float) -> None:
        super().__init__()
        if d_model % heads:
            raise ConfigError(f"d_model={d_model} must be a multiple of heads={heads}; "
                              "change one of them")
        self.max_length = max_length
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.positions = nn.Embedding(max_length, d_model)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=ff, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        # nested tensors are off anyway with norm_first; saying so silences torch's warning
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)  # pre-norm layers leave the last output unnormalised
        self.head = nn.Linear(d_model, n_outputs)

    def pooled(self, ids: Tensor, mask: Tensor) -> Tensor:
        """The (N, d_model) vector the head reads."""
        length = ids.shape[1]
        if length > self.max_length:
            raise ConfigError(f"texts were encoded to {length} tokens but this transformer has "
                              f"positions for {self.max_length}; encode with "
                              f"max_length≤{self.max_length}")
        where = torch.arange(length, device=ids.device)
        x = self.dropout(self.tokens(ids) + self.positions(where))
        # a row without real tokens would attend to nothing (NaN); let it see its first slot
        keep = mask.clone()
        keep[:, 0] = True
        states = self.norm(self.encoder(x, src_key_padding_mask=~keep))
        return masked_mean(states, mask)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        logits: Tensor = self.head(self.dropout(self.pooled(ids, mask)))
        return logits


def default_text_config(kind: str, *, vocab_size: int, n_outputs: int,
                        max_length: int) -> dict[str, Any]:
    """The full config `build_text_network` takes, with this module's defaults filled in.

    `max_length` is kept for both kinds: it is the length texts are encoded to at predict time.

    >>> default_text_config("gru", vocab_size=8000, n_outputs=2, max_length=64)["hidden"]
    128
    """
    if kind not in KINDS:
        raise ConfigError(f"text network kind {kind!r} is not known; use one of {sorted(KINDS)}")
    return {"kind": kind, "vocab_size": vocab_size, "n_outputs": n_outputs,
            "max_length": max_length, **KINDS[kind]}


def build_text_network(config: Mapping[str, Any]) -> TextNetwork:
    """A fresh network from a config such as `default_text_config` returns (missing keys default)."""
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise ConfigError(f"text network config lacks {missing}; start from "
                          "default_text_config(kind, vocab_size=…, n_outputs=…, max_length=…)")
    kind = str(config["kind"])
    full = default_text_config(kind, vocab_size=int(config["vocab_size"]),
                               n_outputs=int(config["n_outputs"]),
                               max_length=int(config["max_length"]))
    unknown = sorted(set(config) - set(full))
    if unknown:
        raise ConfigError(f"text network config for {kind!r} has unknown keys {unknown}; "
                          f"it takes {sorted(full)}")
    full.update(config)
    vocab_size, n_outputs = int(full["vocab_size"]), int(full["n_outputs"])
    layers, dropout = int(full["layers"]), float(full["dropout"])
    if kind == "gru":
        return RecurrentTextNet(vocab_size=vocab_size, n_outputs=n_outputs, layers=layers,
                                dropout=dropout, embedding_dim=int(full["embedding_dim"]),
                                hidden=int(full["hidden"]),
                                bidirectional=bool(full["bidirectional"]),
                                cell=str(full["cell"]))
    return TransformerTextNet(vocab_size=vocab_size, n_outputs=n_outputs, layers=layers,
                              dropout=dropout, d_model=int(full["d_model"]),
                              heads=int(full["heads"]), ff=int(full["ff"]),
                              max_length=int(full["max_length"]))
