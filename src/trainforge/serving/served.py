"""One model as the app serves it: its request schema, its fast path and its answers."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from trainforge.data.task import TaskKind
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.compiled import CompiledModel, compile_model, probe_columns, verify
from trainforge.serving.plans import FastPathMiss
from trainforge.serving.signature import (
    MAX_ERRORS_SHOWN,
    Columns,
    Errors,
    RecordsInvalid,
    Signature,
)
from trainforge.serving.uploads import with_image_bytes

log = logging.getLogger(__name__)

# rows scored to find the fields a record cannot be scored with: at most one request's worth
MAX_PROBES = 10_000
OUT_OF_RANGE = ("value too far beyond those the model was trained on: its arithmetic overflows "
                "(the output would be infinite or NaN); send a value nearer the training data's")
OUT_OF_RANGE_TOGETHER = ("values too far beyond those the model was trained on: together they "
                         "overflow its arithmetic (the output would be infinite or NaN); send "
                         "values nearer the training data's")


def _trusted_fast_path(loaded: LoadedModel) -> CompiledModel | None:
    if loaded.tabular.inputs is not None:  # hashed or masked inputs (--pii): the model's own
        return None  # predict transforms them first; the compiled plans would not
    compiled = compile_model(loaded.tabular)
    if compiled is None or not verify(compiled, probe_columns(loaded.tabular)):
        return None
    return compiled


def _path_of(compiled: CompiledModel | None) -> str:
    if compiled is None:
        return "pandas path"
    if compiled.own_predict:
        return f"fast path; own predict for {', '.join(compiled.own_predict)}"
    return "fast path"


class ServedModel:
    """A loaded model with what serving needs precomputed once, at start-up."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.ref = loaded.ref
        # a fairness-constrained model's sensitive columns are required inputs too
        self.signature = Signature(loaded.name, loaded.tabular.signature)
        self.decides_by_group = loaded.tabular.thresholds is not None
        self.kind = loaded.model.task.kind
        self.classify = self.kind.is_classification
        self.classes = list(loaded.tabular.classes)
        self._labels = np.asarray(self.classes, dtype=object)
        self._proba_keys = [f"proba.{label}" for label in self.classes]
        # clustering and anomaly models are one member, not a blend: the pandas path is theirs
        self.compiled = _trusted_fast_path(loaded) if self.kind.is_supervised else None
        log.info("serving %s (%s)", self.ref, _path_of(self.compiled))

    def outputs(self, columns: Columns) -> np.ndarray:
        """Class probabilities (classes in ``classes`` order), values for a regressor, segments
        for a clustering model, anomaly scores for an anomaly model."""
        if columns.n_rows == 0:
            return np.zeros((0, len(self.classes)) if self.classify else 0)
        columns = with_image_bytes(columns, self.signature.features)
        if self.kind is TaskKind.CLUSTERING:
            return self.loaded.tabular.predict(pd.DataFrame(columns.values))
        if self.kind is TaskKind.ANOMALY:
            return self.loaded.tabular.anomaly_score(pd.DataFrame(columns.values))
        # the compiled plans stay ahead of pandas at any request size (2x at 1,000 rows)
        if self.compiled is not None:
            try:
                return self.compiled.blend(columns.values)
            except FastPathMiss:
                pass  # a value the model itself may refuse: let it answer in its own words
        frame = pd.DataFrame(columns.values)
        model = self.loaded.tabular
        return model.predict_proba(frame) if self.classify else model.predict(frame)

    def scored_outputs(self, columns: Columns, *,
                       loc: tuple[str | int, ...] = ("body", "records")) -> np.ndarray:
        """``outputs``, or RecordsInvalid (a 422) when the model cannot score a record: a
        value near float64's limit (1e308) overflows a model's arithmetic into NaN or
        infinity, and an answer it did not really give is never returned. Each error names
        the record and the number fields that alone overflow it (under ``loc``)."""
        outputs = self.outputs(columns)
        blank = np.flatnonzero(unscored(outputs))
        if len(blank):
            n_numbers = sum(spec.dtype == "number" for spec in self.signature.features)
            examined = blank[:max(1, min(MAX_ERRORS_SHOWN, MAX_PROBES // max(1, n_numbers)))]
            errors = self._out_of_range(columns, examined, loc=loc)
            shown = errors[:MAX_ERRORS_SHOWN]
            raise RecordsInvalid(shown, n_more=len(errors) - len(shown)
                                 + len(blank) - len(examined))
        return outputs

    def _out_of_range(self, columns: Columns, rows: np.ndarray, *,
                      loc: tuple[str | int, ...]) -> Errors:
        """For each unscored record of ``rows``: the number fields whose value alone (the
        record's other numbers missing, as the model imputes them) the model cannot score,
        found by scoring those probes in one batch; the record itself where only its values
        together overflow."""
        numbers = [spec.name for spec in self.signature.features if spec.dtype == "number"]
        probes = [(row, alone) for row in rows.tolist() for alone in numbers]
        values = {name: [None if name in numbers and name != alone else column[row]
                         for row, alone in probes]
                  for name, column in columns.values.items()}
        failed = unscored(self.outputs(Columns(values, len(probes), []))) if probes \
            else np.zeros(0, dtype=bool)
        errors: Errors = []
        for row in rows.tolist():
            fields = [alone for (probed, alone), bad in zip(probes, failed, strict=True)
                      if probed == row and bad]
            errors += ([{"loc": [*loc, row, name], "msg": OUT_OF_RANGE,
                         "type": "value_out_of_range"} for name in fields]
                       or [{"loc": [*loc, row], "msg": OUT_OF_RANGE_TOGETHER,
                            "type": "value_out_of_range"}])
        return errors

    def predictions(self, outputs: np.ndarray, columns: Columns) -> list[Any]:
        """Labels for a classifier (the most probable class), numbers for a regressor, the
        segment for a clustering model, 1 (an anomaly) or 0 for an anomaly model; None for a
        record the model could not score (``unscored``)."""
        return _blanked(self._labelled(outputs, columns), unscored(outputs))

    def _labelled(self, outputs: np.ndarray, columns: Columns) -> list[Any]:
        if self.classify and self.decides_by_group:
            # --fairness-constraint: the per-group rule decides, as TabularModel.predict does
            return list(self.loaded.tabular.labels(outputs, columns.values))
        if self.classify:
            return list(self._labels[outputs.argmax(axis=1)]) if len(outputs) else []
        if self.kind is TaskKind.ANOMALY:  # 1 above the threshold: an anomaly
            return list((outputs > self.loaded.tabular.threshold).astype(int).tolist())
        return list(outputs.tolist())

    def answer(self, columns: Columns) -> dict[str, Any]:
        """The body of a ``/v1/models/{name}/predict`` response (RecordsInvalid: a record
        the model cannot score)."""
        return self.body(columns, self.scored_outputs(columns))

    def body(self, columns: Columns, outputs: np.ndarray) -> dict[str, Any]:
        """The body of a ``/v1/models/{name}/predict`` response, from ``outputs`` (what
        ``scored_outputs(columns)`` returned): the route keeps them for the prediction log."""
        body: dict[str, Any] = {"model": self.ref,
                                "predictions": self._labelled(outputs, columns)}
        if self.classify:
            classes = self.classes
            body["probabilities"] = [dict(zip(classes, row, strict=True))
                                     for row in outputs.tolist()]
        elif self.kind is TaskKind.ANOMALY:
            body["scores"] = outputs.tolist()
        if columns.ignored_fields:
            body["ignored_fields"] = columns.ignored_fields
        return body


    def logged(self, outputs: np.ndarray, predictions: list[Any]) -> dict[str, list[Any]]:
        """What the prediction log keeps of an answer, one list per output column:
        ``prediction``, plus ``proba.<class>`` for a classifier, ``score`` for an anomaly
        model (an unscored row's NaN is written as missing)."""
        logged: dict[str, list[Any]] = {"prediction": predictions}
        if self.classify and len(outputs):
            for position, key in enumerate(self._proba_keys):
                logged[key] = outputs[:, position].tolist()
        elif self.kind is TaskKind.ANOMALY:
            logged["score"] = outputs.tolist()
        return logged


def unscored(outputs: np.ndarray) -> np.ndarray:
    """The rows whose output is not a finite number: values far beyond anything seen in
    training (a feature at 1e308) overflow a model's arithmetic into NaN or infinity."""
    if outputs.dtype.kind != "f":  # segments are integers: always scored
        return np.zeros(len(outputs), dtype=bool)
    finite = np.isfinite(outputs)
    per_row: np.ndarray = finite.all(axis=1) if finite.ndim == 2 else finite
    return ~per_row


def _blanked(values: list[Any], blank: np.ndarray) -> list[Any]:
    # an answer the model did not really give is null, never a made-up label or a NaN
    for row in np.flatnonzero(blank):
        values[row] = None
    return values
