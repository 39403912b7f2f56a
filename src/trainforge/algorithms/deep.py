"""The catalog's networks: a CNN for images; GRU, transformer and MiniLM for text.

Each entry builds a ``NetworkModel`` with its defaults (chosen on MNIST and SMS spam, see
benchmarks/RESULTS.md) and samples the few settings worth searching. DP-SGD trains the CNN
(with GroupNorm) and MiniLM's head or top layers; torch's GRU and attention layers have no
per-row gradients in Opacus, so gru and text_transformer train without it only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainforge.algorithms.catalog import Algorithm, n_threads
from trainforge.data.task import SUPERVISED_KINDS, Task, TaskKind

CNN_DEFAULTS: dict[str, Any] = {
    "architecture": "cnn", "max_epochs": 30, "batch_size": 64, "learning_rate": 3e-3,
    "weight_decay": 5e-4, "schedule": "onecycle", "width": 16, "layers": 1, "dropout": 0.1,
    "augment": 1.0, "flip": 0.0, "label_smoothing": 0.05, "patience": 6}
GRU_DEFAULTS: dict[str, Any] = {
    "architecture": "gru", "max_epochs": 12, "batch_size": 64, "learning_rate": 3e-3,
    "weight_decay": 1e-4, "schedule": "onecycle", "width": 128, "layers": 1, "dropout": 0.2,
    "patience": 3}
TRANSFORMER_DEFAULTS: dict[str, Any] = {
    "architecture": "text_transformer", "max_epochs": 12, "batch_size": 64,
    "learning_rate": 1e-3, "weight_decay": 1e-2, "schedule": "cosine", "width": 128,
    "layers": 2, "dropout": 0.1, "patience": 3}
MINILM_DEFAULTS: dict[str, Any] = {
    "architecture": "minilm", "tune_layers": 0, "max_epochs": 100, "batch_size": 64,
    "learning_rate": 1e-2, "weight_decay": 1e-4, "schedule": "cosine", "dropout": 0.1,
    "patience": 10}
# one layer: it shares the frozen pass with "minilm" (see minilm_cache) and costs a sixth of
# the encoder per epoch; two layers were no better on SMS spam at twice the time
MINILM_TUNED_DEFAULTS: dict[str, Any] = {
    "architecture": "minilm", "tune_layers": 1, "max_epochs": 6, "batch_size": 32,
    "learning_rate": 3e-4, "weight_decay": 1e-2, "schedule": "cosine", "dropout": 0.1,
    "patience": 2}


def _builder(defaults: Mapping[str, Any]) -> Any:
    def build(params: Mapping[str, Any], task: Task, seed: int) -> Any:
        from trainforge.algorithms.network import NetworkModel

        settings = {**defaults, **params}
        settings.pop("class_weight", None)
        return NetworkModel(**settings, task_kind=task.kind.value,
                            n_classes=max(1, len(task.classes)), seed=seed,
                            torch_threads=n_threads())

    return build


def cnn_space(trial: Any) -> dict[str, Any]:
    return {"width": trial.suggest_categorical("width", [16, 24, 32]),
            "layers": trial.suggest_int("layers", 1, 2),
            "learning_rate": trial.suggest_float("learning_rate", 5e-4, 6e-3, log=True),
            "augment": trial.suggest_float("augment", 0.0, 1.5),
            "flip": trial.suggest_categorical("flip", [0.0, 0.5]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.3)}


def gru_space(trial: Any) -> dict[str, Any]:
    return {"width": trial.suggest_categorical("width", [64, 128, 192]),
            "learning_rate": trial.suggest_float("learning_rate", 5e-4, 5e-3, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.4)}


def transformer_space(trial: Any) -> dict[str, Any]:
    return {"width": trial.suggest_categorical("width", [64, 128]),
            "layers": trial.suggest_int("layers", 1, 3),
            "learning_rate": trial.suggest_float("learning_rate", 2e-4, 2e-3, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.3)}


def minilm_space(trial: Any) -> dict[str, Any]:
    return {"learning_rate": trial.suggest_float("learning_rate", 2e-3, 3e-2, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.4)}


def minilm_tuned_space(trial: Any) -> dict[str, Any]:
    return {"tune_layers": trial.suggest_int("tune_layers", 1, 2),
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 6e-4, log=True)}


_CLASSES = frozenset({TaskKind.BINARY, TaskKind.MULTICLASS})
ALGORITHMS = [
    Algorithm(name="cnn", family="network", summary="residual CNN trained from scratch (images)",
              kinds=SUPERVISED_KINDS, preprocessing="image", build=_builder(CNN_DEFAULTS),
              search_space=cnn_space, defaults=CNN_DEFAULTS, cost=300.0,
              modalities=frozenset({"image"}), dp_sgd=True),
    Algorithm(name="gru", family="network",
              summary="bidirectional GRU over a tokenizer learned on the text",
              kinds=SUPERVISED_KINDS, preprocessing="text", build=_builder(GRU_DEFAULTS),
              search_space=gru_space, defaults=GRU_DEFAULTS, cost=60.0,
              modalities=frozenset({"text"})),
    Algorithm(name="text_transformer", family="network",
              summary="small transformer encoder trained from scratch on the text",
              kinds=SUPERVISED_KINDS, preprocessing="text",
              build=_builder(TRANSFORMER_DEFAULTS), search_space=transformer_space,
              defaults=TRANSFORMER_DEFAULTS, cost=80.0, modalities=frozenset({"text"})),
    Algorithm(name="minilm", family="network",
              summary="pretrained MiniLM sentence embeddings (frozen) with a trained head",
              kinds=_CLASSES | {TaskKind.REGRESSION}, preprocessing="text",
              build=_builder(MINILM_DEFAULTS), search_space=minilm_space,
              defaults=MINILM_DEFAULTS, cost=40.0, modalities=frozenset({"text"}), dp_sgd=True),
    Algorithm(name="minilm_tuned", family="network",
              summary="pretrained MiniLM with its top layers fine-tuned",
              kinds=_CLASSES | {TaskKind.REGRESSION}, preprocessing="text",
              build=_builder(MINILM_TUNED_DEFAULTS), search_space=minilm_tuned_space,
              defaults=MINILM_TUNED_DEFAULTS, cost=150.0, modalities=frozenset({"text"}), dp_sgd=True),
]
