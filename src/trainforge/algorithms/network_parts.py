"""The pieces of one network fit: the module, what the loop trains, and its inputs.

Usually the loop trains the module itself on encoded inputs. A pretrained MiniLM is cheaper:
its frozen layers run once, before training, and the loop trains only what sits on top of
them (the head on cached sentence embeddings, or the top layers on cached hidden states).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trainforge.algorithms.network_inputs import (
    ImageInputs,
    Inputs,
    PretrainedTokenInputs,
    TokenInputs,
)

if TYPE_CHECKING:
    from trainforge.algorithms.network import NetworkModel

FEATURE_CHUNK = 256  # texts per pass when caching MiniLM's frozen outputs


@dataclass
class Parts:
    config: dict[str, Any]  # JSON: rebuilds ``module`` (with the saved weights)
    module: Any  # predicts: module(*inputs.encode(values))
    trainable_module: Any  # what the loop trains (``module`` or a part of it)
    train_inputs: Callable[[list[Any]], tuple[Any, ...]]
    augment: Callable[[tuple[Any, ...], Any], tuple[Any, ...]] | None
    trainable: list[Any] | None  # parameters the optimiser updates; None = all


def n_outputs(model: NetworkModel) -> int:
    return int(model.n_classes) if model.is_classifier else 1


def build_parts(model: NetworkModel, inputs: Inputs, *, source: NetworkModel | None) -> Parts:
    """The module for ``model``'s architecture (from ``source``'s backbone when given)."""
    if model.architecture == "minilm":
        return _minilm_parts(model, inputs, source)
    config = (dict(source.config_, n_outputs=n_outputs(model)) if source is not None
              else _fresh_config(model, inputs))
    module = build_module(config)
    if source is not None:
        _copy_backbone(source.module_, module)
    trainable = list(module.head.parameters()) if model.freeze_backbone and source else None
    return Parts(config=config, module=module, trainable_module=module,
                 train_inputs=inputs.encode, augment=_augmenter(model, inputs),
                 trainable=trainable)


def _fresh_config(model: NetworkModel, inputs: Inputs) -> dict[str, Any]:
    width, layers = int(model.width), int(model.layers)
    if isinstance(inputs, ImageInputs):
        from trainforge.algorithms.vision import default_cnn_config

        channels, height, width_px = inputs.shape
        config = default_cnn_config(channels, height, width_px, n_outputs(model))
        config.update(widths=[width, 2 * width, 4 * width], blocks_per_stage=layers,
                      dropout=float(model.dropout),
                      normalise={"mean": inputs.mean, "std": inputs.std})
        if model.dp_epsilon is not None:  # BatchNorm mixes rows: DP-SGD needs each row alone
            config["norm"] = "group"
        return config
    if not isinstance(inputs, TokenInputs):
        raise TypeError(f"{model.architecture} networks read text tokens")
    from trainforge.algorithms.sequence import default_text_config

    kind = "gru" if model.architecture == "gru" else "transformer"
    config = default_text_config(kind, vocab_size=inputs.vocab_size, n_outputs=n_outputs(model),
                                 max_length=inputs.max_length)
    if kind == "gru":
        config.update(hidden=width, layers=layers, dropout=float(model.dropout))
    else:
        config.update(d_model=width, ff=2 * width, layers=layers, dropout=float(model.dropout))
    return config


def build_module(config: dict[str, Any]) -> Any:
    """A freshly initialised module from its JSON config."""
    if config["kind"] in ("resnet", "simple_cnn"):
        from trainforge.algorithms.vision import build_cnn

        network = build_cnn({k: v for k, v in config.items() if k != "normalise"})
        if "normalise" not in config:
            return network
        return _normalised(network, config["normalise"])
    if config["kind"] == "minilm":
        from trainforge.algorithms.minilm import MiniLMClassifier

        module = MiniLMClassifier(int(config["n_outputs"]), dropout=float(config["dropout"]))
        module.freeze(int(config["tune_layers"]))
        return module
    from trainforge.algorithms.sequence import build_text_network

    return build_text_network(config)


def _normalised(network: Any, stats: dict[str, list[float]]) -> Any:
    """``network`` behind a first step that normalises pixels with the training statistics:
    they travel in the weights file, and augmentation sees pixels in [0, 1]."""
    import torch
    from torch import nn

    class NormalisedImages(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = network
            shape = (1, -1, 1, 1)
            self.register_buffer("mean", torch.tensor(stats["mean"]).reshape(shape))
            self.register_buffer("std", torch.tensor(stats["std"]).reshape(shape))

        @property
        def head(self) -> Any:  # a property: a second registration would share tensors
            return self.net.head

        def forward(self, pixels: Any) -> Any:
            return self.net((pixels - self.mean) / self.std)

        def backbone_parameters(self) -> Any:
            return self.net.backbone_parameters()

    return NormalisedImages()


def _copy_backbone(source: Any, target: Any) -> None:
    """Every weight but the head's, from a trained network of the same architecture."""
    head_ids = {id(p) for p in target.head.parameters()}
    head = {name for name, p in target.named_parameters() if id(p) in head_ids}
    state = {k: v for k, v in source.state_dict().items() if k not in head}
    missing, unexpected = target.load_state_dict(state, strict=False)
    leftover = [k for k in missing if k not in head]
    if leftover or unexpected:
        raise ValueError(f"--init-from: the networks differ ({', '.join([*leftover, *unexpected][:5])})")


def _augmenter(model: NetworkModel, inputs: Inputs
               ) -> Callable[[tuple[Any, ...], Any], tuple[Any, ...]] | None:
    if not isinstance(inputs, ImageInputs) or model.augment <= 0:
        return None
    from trainforge.data.image_transforms import augment

    strength = float(model.augment)
    height = inputs.shape[1]
    policy = {"crop_padding": float(max(1, round(height / 14 * strength))),
              "rotation_deg": 10.0 * strength, "brightness": 0.1 * strength,
              "contrast": 0.1 * strength, "flip": float(model.flip)}

    def augmented(batch: tuple[Any, ...], generator: Any) -> tuple[Any, ...]:
        return (augment(batch[0], generator, policy=policy), *batch[1:])

    return augmented


# ---- MiniLM ---------------------------------------------------------------------------------
def _minilm_parts(model: NetworkModel, inputs: Inputs, source: NetworkModel | None) -> Parts:
    """MiniLM's frozen layers run once here; the loop trains only what sits on top."""
    import torch
    from torch import nn

    if not isinstance(inputs, PretrainedTokenInputs):
        raise TypeError("a MiniLM network reads MiniLM's own tokens")
    tune = int(model.tune_layers)
    config = {"kind": "minilm", "n_outputs": n_outputs(model), "dropout": float(model.dropout),
              "tune_layers": tune}
    module = build_module(config)
    if source is not None:
        _copy_backbone(source.module_, module)
    start = module.first_trainable_layer

    class Top(nn.Module):
        """The head on cached sentence vectors, or the top layers on cached states. Only
        those are registered, so checkpoints hold them and not the frozen 90 MB."""

        def __init__(self) -> None:
            super().__init__()
            self.head, self.dropout = module.head, module.dropout
            self.layers = nn.ModuleList(module.encoder.layers[start:])

        def forward(self, *cached: Any) -> Any:
            if tune == 0:
                return self.head(self.dropout(cached[0]))
            states, mask = cached
            return module.forward_from(start, states, mask)  # runs self.layers, self.head

    # fine-tuning k layers reads the states entering layer n-k; a frozen encoder those entering
    # the last layer, which it runs once: the two share the cache when k is 1
    layer = start if tune else start - 1
    pretrained_below = source is None  # an --init-from network may have tuned lower layers

    def cached(values: list[Any]) -> tuple[Any, ...]:
        """The frozen part's output, from the shared cache (computed once per text)."""
        from trainforge.algorithms.minilm import sentence_vectors
        from trainforge.algorithms.minilm_cache import FROZEN
        from trainforge.algorithms.network_inputs import texts_of

        texts = texts_of(values)
        ids, mask = (np.asarray(a) for a in inputs.encode_arrays(texts))
        module.eval()
        states, mask_tensor = FROZEN.states(module.encoder, texts, ids, mask,
                                            max_length=ids.shape[1], layer=layer,
                                            keep=pretrained_below)
        if tune:
            return states, mask_tensor
        vectors = []
        with torch.inference_mode():
            for first in range(0, len(texts), FEATURE_CHUNK):
                part = slice(first, first + FEATURE_CHUNK)
                top_states = module.encoder.forward_from(layer, states[part], mask_tensor[part])
                vectors.append(sentence_vectors(top_states, mask_tensor[part]))
        return (torch.cat(vectors).clone(),)

    top = Top()
    trainable = [p for p in top.parameters() if p.requires_grad]
    return Parts(config=config, module=module, trainable_module=top, train_inputs=cached,
                 augment=None, trainable=trainable)


def weights_to_save(model: NetworkModel) -> dict[str, Any]:
    """The tensors a package keeps: all of them, but for MiniLM only what differs from the
    installed pretrained weights (the tuned layers and the head)."""
    if model.architecture == "minilm":
        from trainforge.algorithms.minilm import trainable_state

        state = trainable_state(model.module_)
    else:
        state = model.module_.state_dict()
    return {name: tensor.detach().contiguous().clone() for name, tensor in state.items()}


def module_from_saved(model: NetworkModel, weights: dict[str, Any]) -> Any:
    module = build_module(model.config_)
    strict = model.architecture != "minilm"  # MiniLM's frozen layers come from the package
    module.load_state_dict(weights, strict=strict)
    return module

