"""Neural networks as catalog estimators: one class wraps trainforge's PyTorch loop.

``NetworkModel`` follows the scikit-learn contract like every other algorithm, so AutoML,
ensembling, evaluation, the registry and serving need no special case. It reads one column of
raw values (image files or text, picked by the "image" / "text" preprocessing) and learns:

- ``cnn``: a small residual CNN trained from scratch on the images;
- ``gru`` / ``text_transformer``: a recurrent or attention network over a tokenizer learned on
  the training text;
- ``minilm``: the pretrained MiniLM sentence encoder with a new head; ``tune_layers`` = 0 keeps
  the encoder frozen (its embeddings are computed once), k > 0 fine-tunes its top k layers.

It saves natively (safetensors weights + a JSON of the architecture, the input encoding and the
learning curve), never as a pickled module. Fitting imports the loop from ``training``
(DESIGN: deep nets wrap the PyTorch loop); predicting does not, so serving never imports it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator

from trainforge.algorithms.network_inputs import (
    ImageInputs,
    Inputs,
    PretrainedTokenInputs,
    TokenInputs,
    as_values,
    inputs_from_dict,
)
from trainforge.errors import ConfigError, NeedsDeepLearning

EvalSet = tuple[Any, np.ndarray]
INPUT_KIND = {"cnn": "image", "gru": "text", "text_transformer": "text", "minilm": "text"}
PREDICT_CHUNK = 512  # rows per forward pass when predicting: bounded memory on any table
MIN_STEPS = 500  # small data trains for more epochs, so that a network sees enough steps
MAX_EPOCHS = 200
MIN_ROWS_TO_SPLIT = 50  # fewer rows than this train for max_epochs without early stopping


def require_torch(what: str) -> Any:
    """torch, or an error saying how to install it."""
    try:
        import torch
    except ImportError:
        raise NeedsDeepLearning(what) from None
    return torch


@contextlib.contextmanager
def limited_threads(count: int) -> Iterator[None]:
    """torch on ``count`` threads inside the block, as many as before after it."""
    torch = require_torch("training a network")
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class NetworkModel(BaseEstimator):  # type: ignore[misc]
    """A network for images or text; classifiers learn class codes 0..k-1.

    ``max_epochs`` bounds training; with validation rows, early stopping keeps the best epoch
    (``best_iteration_``), and a refit on more rows trains exactly that many epochs
    (``set_rounds``). ``init_from`` ("PACKAGE_DIR::STEM", set by ``--init-from``) starts from a
    registered network: same backbone and input encoding, a new head; ``freeze_backbone``
    trains the head only. ``workers`` > 1 trains data-parallel on that many Ray Train workers
    (runtime.data_parallel), checkpointing to ``checkpoint_dir``, which they must all reach.
    ``epoch_limit`` (``--max-epochs``) caps the epochs whatever ``max_epochs`` and the
    small-data rule (MIN_STEPS) would give; None leaves them as they are.
    """

    def __init__(self, *, architecture: str = "cnn", task_kind: str = "multiclass",
                 n_classes: int = 2, max_epochs: int = 30, batch_size: int = 64,
                 learning_rate: float = 2e-3, weight_decay: float = 1e-4,
                 optimizer: str = "adamw", schedule: str = "onecycle",
                 label_smoothing: float = 0.0, dropout: float = 0.1, patience: int = 5,
                 width: int = 32, layers: int = 1, augment: float = 1.0, flip: float = 0.0,
                 image_size: int = 0, max_length: int = 0, vocab_size: int = 8000,
                 tune_layers: int = 0, init_from: str = "", freeze_backbone: bool = False,
                 fixed_epochs: bool = False, epoch_limit: int | None = None, seed: int = 0,
                 torch_threads: int = 2,
                 checkpoint_dir: str = "", workers: int = 1, dp_epsilon: float | None = None,
                 dp_delta: float | None = None, dp_max_grad_norm: float = 1.0) -> None:
        self.architecture = architecture
        self.task_kind = task_kind
        self.n_classes = n_classes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.schedule = schedule
        self.label_smoothing = label_smoothing
        self.dropout = dropout
        self.patience = patience
        self.width = width
        self.layers = layers
        self.augment = augment
        self.flip = flip
        self.image_size = image_size
        self.max_length = max_length
        self.vocab_size = vocab_size
        self.tune_layers = tune_layers
        self.init_from = init_from
        self.freeze_backbone = freeze_backbone
        self.fixed_epochs = fixed_epochs
        self.epoch_limit = epoch_limit
        self.seed = seed
        self.torch_threads = torch_threads
        self.checkpoint_dir = checkpoint_dir
        self.workers = workers
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_max_grad_norm = dp_max_grad_norm

    reports_epochs = True  # fit(..., callbacks=...) sends each epoch's EpochState

    # ---- the refit contract shared with boosting ------------------------------------------------
    def set_rounds(self, best_iteration: int, *, data_fraction: float) -> None:
        """Train exactly the epochs early stopping chose (more rows need no more epochs)."""
        self.set_params(max_epochs=max(1, int(best_iteration)), fixed_epochs=True)

    @property
    def is_classifier(self) -> bool:
        return self.task_kind != "regression"

    # ---- fitting --------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, eval_set: EvalSet | None = None,
            stop_at: float | None = None, callbacks: Sequence[object] = ()) -> Self:
        """Learn from the raw values in ``X`` (one column) and targets ``y``."""
        from trainforge.algorithms.network_parts import build_parts
        from trainforge.runtime.loop import TensorData

        if self.architecture not in INPUT_KIND:
            raise ConfigError(f"no network architecture {self.architecture!r} (known: "
                              f"{', '.join(INPUT_KIND)})")
        values, targets = as_values(X), np.asarray(y)
        valid_values, valid_targets = self._validation(eval_set)
        if valid_values is None and eval_set is None and not self.fixed_epochs:
            values, targets, valid_values, valid_targets = self._split(values, targets)
        with limited_threads(self.torch_threads):
            source = self._source()
            self.inputs_: Inputs = (source.inputs_ if source is not None
                                    else self._fit_inputs(values))
            self._fit_target(targets)
            require_torch("training a network").manual_seed(int(self.seed))  # same init
            parts = build_parts(self, self.inputs_, source=source)
            self.config_ = parts.config
            train = TensorData(parts.train_inputs(values), self._target_tensor(targets))
            valid = (None if valid_values is None or valid_targets is None else
                     TensorData(parts.train_inputs(valid_values),
                                self._target_tensor(valid_targets)))
            # a head on frozen MiniLM vectors trains in about a second: once the vectors are
            # paid for, cutting it short would only waste them
            head_only = self.architecture == "minilm" and int(self.tune_layers) == 0
            history = self._train(parts, train, valid, callbacks=callbacks,
                                  stop_at=None if head_only else stop_at)
        self.module_ = parts.module.eval()
        self.history_ = history.to_dict()
        self.best_iteration_ = int(history.best_epoch)
        self.iterations_run_ = len(history.epochs)
        self.stopped_by_time_ = history.stopped_because == "time"
        self.privacy_: dict[str, Any] | None = history.privacy  # DP-SGD's budget and spend
        self.classes_ = np.arange(self.n_classes) if self.is_classifier else None
        return self

    def _train(self, parts: Any, train: Any, valid: Any, *, callbacks: Sequence[object],
               stop_at: float | None) -> Any:
        """The loop's history, from this process or from ``workers`` Ray Train workers."""
        from trainforge.runtime.loop import Trainer

        checkpoint_dir = Path(self.checkpoint_dir) if self.checkpoint_dir else None
        if int(self.workers) > 1:  # only here is Ray imported: the local path never is
            from trainforge.runtime.data_parallel import DataParallel, fit_data_parallel

            plan = DataParallel(int(self.workers),
                                ray_address=os.environ.get("TRAINFORGE_RAY_ADDRESS"))
            return fit_data_parallel(parts.trainable_module, self._loop_config(len(train)),
                                     train, valid, plan=plan, checkpoint_dir=checkpoint_dir,
                                     stop_at=stop_at, augment=parts.augment,
                                     callbacks=callbacks, architecture=self._architecture_key(),
                                     trainable=parts.trainable)
        trainer = Trainer(parts.trainable_module, self._loop_config(len(train)),
                          augment=parts.augment, callbacks=list(callbacks),
                          checkpoint_dir=checkpoint_dir, architecture=self._architecture_key(),
                          trainable=parts.trainable)
        return trainer.fit(train, valid, stop_at=stop_at)

    def _validation(self, eval_set: EvalSet | None
                    ) -> tuple[list[Any] | None, np.ndarray | None]:
        """The rows early stopping watches: the caller's, unless the epochs are fixed."""
        if eval_set is None or self.fixed_epochs or len(np.asarray(eval_set[1])) == 0:
            return None, None
        return as_values(eval_set[0]), np.asarray(eval_set[1])

    def _split(self, values: list[Any], targets: np.ndarray
               ) -> tuple[list[Any], np.ndarray, list[Any] | None, np.ndarray | None]:
        """Without validation rows, keep 10 % aside for early stopping (stratified)."""
        if len(values) < MIN_ROWS_TO_SPLIT:
            return values, targets, None, None
        from sklearn.model_selection import train_test_split

        rows = np.arange(len(values))
        counts = np.unique(targets, return_counts=True)[1] if self.is_classifier else None
        stratify = targets if counts is not None and counts.min() >= 2 else None
        train_rows, valid_rows = train_test_split(rows, test_size=0.1, random_state=self.seed,
                                                  stratify=stratify)
        return ([values[i] for i in train_rows], targets[train_rows],
                [values[i] for i in valid_rows], targets[valid_rows])

    def _fit_inputs(self, values: list[Any]) -> Inputs:
        if self.architecture == "cnn":
            return ImageInputs.fit(values, size=self.image_size)
        if self.architecture == "minilm":
            return PretrainedTokenInputs.fit(values, max_length=self.max_length)
        return TokenInputs.fit(values, vocab_size=self.vocab_size, max_length=self.max_length)

    def _fit_target(self, targets: np.ndarray) -> None:
        if self.is_classifier:
            self.target_mean_, self.target_scale_ = 0.0, 1.0
            return
        numbers = targets.astype(np.float64)
        self.target_mean_ = float(numbers.mean()) if len(numbers) else 0.0
        self.target_scale_ = float(numbers.std()) or 1.0

    def _target_tensor(self, targets: np.ndarray) -> Any:
        torch = require_torch("training a network")
        if self.is_classifier:
            return torch.as_tensor(targets.astype(np.int64))
        scaled = (targets.astype(np.float64) - self.target_mean_) / self.target_scale_
        return torch.as_tensor(scaled.astype(np.float32)).reshape(-1, 1)

    def _loop_config(self, n_rows: int) -> Any:
        """The loop's settings; on small data, enough epochs for MIN_STEPS optimiser steps
        (early stopping still ends training when validation stops improving) — but not under
        DP-SGD, where every planned epoch adds noise to all of them; never more epochs than
        ``epoch_limit``."""
        from trainforge.runtime.loop import LoopConfig

        return LoopConfig(
            max_epochs=self.planned_epochs(n_rows), batch_size=int(self.batch_size),
            loss="cross_entropy" if self.is_classifier else "mse",
            label_smoothing=float(self.label_smoothing) if self.is_classifier else 0.0,
            optimizer=self.optimizer,  # type: ignore[arg-type]  # the catalog's values
            learning_rate=float(self.learning_rate), weight_decay=float(self.weight_decay),
            schedule=self.schedule,  # type: ignore[arg-type]
            patience=int(self.patience), seed=int(self.seed),
            dp_epsilon=None if self.dp_epsilon is None else float(self.dp_epsilon),
            dp_delta=None if self.dp_delta is None else float(self.dp_delta),
            dp_max_grad_norm=float(self.dp_max_grad_norm))

    def planned_epochs(self, n_rows: int) -> int:
        """The epochs a fit on ``n_rows`` rows trains at most (early stopping may end it
        sooner)."""
        epochs = int(self.max_epochs)
        if (not self.fixed_epochs and self.architecture != "minilm"  # pretrained: few epochs
                and self.dp_epsilon is None):
            steps_per_epoch = max(1, math.ceil(n_rows / int(self.batch_size)))
            epochs = min(MAX_EPOCHS, max(epochs, math.ceil(MIN_STEPS / steps_per_epoch)))
        if self.epoch_limit is not None:
            epochs = min(epochs, int(self.epoch_limit))
        return epochs

    def _architecture_key(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed: the network and how it reads input."""
        import hashlib

        encoded = json.dumps(self.inputs_.to_dict(), sort_keys=True).encode()
        return {"architecture": self.architecture, "network": self.config_,
                "inputs_sha256": hashlib.sha256(encoded).hexdigest()}

    def _source(self) -> NetworkModel | None:
        """The registered network ``init_from`` names, or None."""
        if not self.init_from:
            return None
        directory, _, stem = self.init_from.rpartition("::")
        source = NetworkModel.load_native(Path(directory), stem)
        if INPUT_KIND[source.architecture] != INPUT_KIND[self.architecture]:
            raise ConfigError(f"--init-from names a {source.architecture} network (for "
                              f"{INPUT_KIND[source.architecture]}), but this data needs one for "
                              f"{INPUT_KIND[self.architecture]}")
        return source

    # ---- predicting -----------------------------------------------------------------------------
    def _outputs(self, X: Any) -> np.ndarray:
        torch = require_torch("predicting with a network")
        values = as_values(X)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(values), PREDICT_CHUNK):
                inputs = self.inputs_.encode(values[start:start + PREDICT_CHUNK])
                chunks.append(self.module_(*inputs).float().cpu().numpy())
        width = self.n_classes if self.is_classifier else 1
        return (np.concatenate(chunks) if chunks else
                np.zeros((0, width), dtype=np.float32)).astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        if not self.is_classifier:
            raise TypeError("predict_proba is for classifiers; this model is a regressor")
        logits = self._outputs(X)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        if self.is_classifier:
            return np.asarray(self.predict_proba(X).argmax(axis=1))
        return np.asarray(self._outputs(X).reshape(-1) * self.target_scale_ + self.target_mean_)

    # ---- files ----------------------------------------------------------------------------------
    def save_native(self, directory: Path, stem: str) -> list[str]:
        """Weights in safetensors, everything else in JSON: no pickled module anywhere."""
        from safetensors.torch import save_file

        from trainforge.algorithms.network_parts import weights_to_save

        weights_file, settings_file = f"{stem}.safetensors", f"{stem}.json"
        save_file(weights_to_save(self), str(directory / weights_file))
        settings = {"params": self.get_params(), "network": self.config_,
                    "inputs": self.inputs_.to_dict(), "history": self.history_,
                    "best_iteration": self.best_iteration_, "privacy": self.privacy_,
                    "target": [self.target_mean_, self.target_scale_],
                    "weights_file": weights_file}
        (directory / settings_file).write_text(json.dumps(settings, sort_keys=True))
        return [weights_file, settings_file]

    @classmethod
    def load_native(cls, directory: Path, stem: str) -> Self:
        from safetensors.torch import load_file

        from trainforge.algorithms.network_parts import module_from_saved

        require_torch("loading a network")
        settings = json.loads((directory / f"{stem}.json").read_text())
        model = cls(**settings["params"])
        model.config_ = settings["network"]
        model.inputs_ = inputs_from_dict(settings["inputs"])
        model.history_ = settings["history"]
        model.best_iteration_ = int(settings["best_iteration"])
        model.stopped_by_time_ = False
        model.privacy_ = settings.get("privacy")  # packages from before DP-SGD have none
        model.target_mean_, model.target_scale_ = (float(v) for v in settings["target"])
        model.classes_ = np.arange(model.n_classes) if model.is_classifier else None
        weights = load_file(str(directory / settings["weights_file"]))
        model.module_ = module_from_saved(model, weights).eval()
        return model
