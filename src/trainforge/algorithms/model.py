"""The fitted tabular model: what the registry stores, serving loads and the SDK returns.

Clustering and anomaly models take the same form with one member (the fitted preprocessor and
the segments or the detector): a table in, a segment, or a score and a flag, per row out.

A model is a weighted blend of members; each member is a fitted preprocessor (a scikit-learn
transformer from ``trainforge.data.prepare``) followed by a fitted catalog estimator. Classifiers'
estimators are trained on class *codes* 0..k-1 (``Task.classes`` gives the labels), so blending
is an average of probability matrices whatever the algorithm.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms.group_thresholds import GroupThresholds
from trainforge.data.dataset import ColumnKind, Schema
from trainforge.data.privacy_policy import InputPrivacy
from trainforge.data.task import Task, TaskKind
from trainforge.errors import InvalidRequest


@dataclass(frozen=True)
class FeatureSpec:
    """One input column of the model's signature."""

    name: str
    kind: ColumnKind
    dtype: str  # "number", "string", "boolean", "datetime" or "image": what a request sends

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind.value, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, raw: dict[str, str]) -> FeatureSpec:
        return cls(name=raw["name"], kind=ColumnKind(raw["kind"]), dtype=raw["dtype"])


def feature_specs(schema: Schema, features: Sequence[str]) -> list[FeatureSpec]:
    """The model's input signature: each feature with the dtype a request must send."""
    dtypes = {ColumnKind.NUMERIC: "number", ColumnKind.BOOLEAN: "boolean",
              ColumnKind.DATETIME: "datetime", ColumnKind.IMAGE: "image"}
    return [FeatureSpec(name, ColumnKind(schema[name]),
                        dtypes.get(ColumnKind(schema[name]), "string")) for name in features]


@dataclass
class Member:
    """One fitted pipeline of the blend. ``algorithm`` is its catalog name."""

    algorithm: str
    params: dict[str, Any]
    preprocessor: Any  # fitted sklearn transformer: DataFrame -> matrix
    estimator: Any  # fitted catalog estimator (scikit-learn contract)
    weight: float = 1.0


def _numbers(name: str, column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
        return np.asarray(column.to_numpy(), dtype="float64")  # nothing to parse or fill
    if column.dtype.kind in "biuf":  # nullable Int64, Float64, boolean: NA becomes NaN
        return np.asarray(column.to_numpy(dtype="float64", na_value=np.nan))
    converted = pd.to_numeric(column, errors="coerce")
    bad = (converted.isna() & column.notna()).to_numpy()
    if bool(bad.any()):
        row = int(np.flatnonzero(bad)[0])
        raise InvalidRequest(f"column {name!r}: {column.iloc[row]!r} is not a number "
                             f"(row {row})")
    return np.asarray(converted.to_numpy(dtype="float64", na_value=np.nan))


def _is_missing(value: Any) -> bool:
    # None, NaN, NaT and pd.NA, as pd.isna says, without a pandas call per value
    return value is None or value is pd.NA or value != value  # noqa: PLR0124


def _strings(column: pd.Series) -> pd.Series:
    # categories and text are compared as strings, as they were in training; an explicit
    # object dtype keeps missing values as None (pandas 3 would infer str dtype with NaN)
    return pd.Series([None if _is_missing(v) else str(v) for v in column.tolist()],
                     index=column.index, dtype=object)


def coerce_frame(frame: pd.DataFrame, features: Sequence[FeatureSpec]) -> pd.DataFrame:
    """Put the columns a model needs in its order and dtypes; missing columns become NaN.

    Numbers become float64, datetimes datetime64 (naive UTC), everything else ``str`` or
    ``None`` in object columns. Raises InvalidRequest naming the column when a value cannot be
    read as its type.
    """
    out: dict[str, Any] = {}
    n_rows = len(frame)
    present = set(frame.columns)
    for spec in features:
        if spec.name not in present:
            out[spec.name] = (np.full(n_rows, np.nan) if spec.dtype == "number" else
                              pd.Series([np.nan] * n_rows, index=frame.index, dtype=object))
            continue
        column = frame[spec.name]
        if spec.dtype == "number":
            out[spec.name] = _numbers(spec.name, column)
        elif spec.dtype == "image":  # a path, or the bytes a request sent: read by the network
            out[spec.name] = pd.Series([None if _is_missing(v) else v for v in column.tolist()],
                                       index=frame.index, dtype=object)
        elif spec.dtype == "datetime":
            out[spec.name] = pd.to_datetime(column, errors="coerce", utc=True).dt.tz_localize(
                None).to_numpy()
        else:
            out[spec.name] = _strings(column)
    return pd.DataFrame(out, index=frame.index, copy=False)


def probabilities_from_blend(blended: np.ndarray) -> np.ndarray:
    """Rows of a blended probability matrix clipped at 0 and scaled to sum to 1.

    Shared by ``TabularModel.predict_proba`` and serving's compiled fast path, so both give
    the same numbers.
    """
    proba = np.clip(blended, 0.0, None)
    sums = proba.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    return np.asarray(proba / sums)


class ProbabilityFrame(pd.DataFrame):  # type: ignore[misc]
    """Class probabilities, one column per class label, that also answer numpy's
    ``[rows, column]`` indexing: scikit-learn's scorers (``get_scorer("roc_auc")``) take the
    positive class's column from ``predict_proba`` that way. Derived frames are plain."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], slice):
            return self.to_numpy()[key]
        return super().__getitem__(key)


# below this many rows, members predict in the calling thread: starting a joblib thread pool
# costs more than it saves (a one-row predict of a 10-member extra-trees blend: 520 -> 140 ms)
FEW_ROWS = 1_000


def _in_calling_thread(n_rows: int) -> contextlib.AbstractContextManager[Any]:
    """Forests and k-NN (n_jobs=2) run sequentially for a few rows; the numbers are the same.
    joblib's setting is per thread, so concurrent requests do not affect each other."""
    if n_rows >= FEW_ROWS:
        return contextlib.nullcontext()
    import joblib

    sequential: contextlib.AbstractContextManager[Any] = joblib.parallel_config(
        backend="sequential")
    return sequential


@dataclass
class TabularModel:
    """A fitted model for one table task."""

    task: Task
    features: list[FeatureSpec]
    members: list[Member]
    # columns hashed or masked at training (--pii): every input goes through the same first
    inputs: InputPrivacy | None = None
    # --fairness-constraint: a binary classifier decides by per-group thresholds, so its
    # inputs include the sensitive columns (``signature``) even when it does not learn from them
    thresholds: GroupThresholds | None = None
    # the sensitive columns' specs that are not features: what ``signature`` adds
    decided_by: list[FeatureSpec] | None = None

    @property
    def signature(self) -> list[FeatureSpec]:
        """What every input row must hold: the features, and the sensitive columns a
        fairness-constrained model decides by."""
        return [*self.features, *(self.decided_by or [])]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.task.classes

    def _member_output(self, member: Member, frame: pd.DataFrame) -> np.ndarray:
        matrix = member.preprocessor.transform(frame)
        if self.task.kind.is_classification:
            proba = np.asarray(member.estimator.predict_proba(matrix), dtype="float64")
            return proba
        return np.asarray(member.estimator.predict(matrix), dtype="float64")

    def _private(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame if self.inputs is None else self.inputs.apply(frame)

    def prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` as every member's preprocessor reads it: private columns hashed or
        masked as in training, each feature coerced to its type."""
        return coerce_frame(self._private(frame), self.features)

    def _blend(self, frame: pd.DataFrame) -> np.ndarray:
        if len(frame) == 0:  # estimators refuse empty input; no rows in, no rows out
            width = (len(self.classes),) if self.task.kind.is_classification else ()
            return np.zeros((0, *width), dtype="float64")
        prepared = self.prepared(frame)
        total = sum(m.weight for m in self.members)
        blended: np.ndarray | None = None
        with _in_calling_thread(len(prepared)):
            for member in self.members:
                part = self._member_output(member, prepared) * (member.weight / total)
                blended = part if blended is None else blended + part
        assert blended is not None  # a model always has at least one member
        return blended

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of each class (columns in ``classes`` order), one row per input row."""
        if not self.task.kind.is_classification:
            raise TypeError(f"predict_proba is for classifiers; this model is "
                            f"{self.task.kind.value} (use predict)")
        return probabilities_from_blend(self._blend(frame))

    def _unsupervised(self, frame: pd.DataFrame, output: str) -> np.ndarray:
        """One member's ``output`` ("predict" or "anomaly_score") for clustering and anomaly
        models, which are never blends: segment ids, 0/1 flags or scores."""
        member = self.members[0]
        dtype = "float64" if output == "anomaly_score" else "int64"
        if len(frame) == 0:
            return np.zeros(0, dtype=dtype)
        matrix = member.preprocessor.transform(coerce_frame(self._private(frame),
                                                            self.features))
        return np.asarray(getattr(member.estimator, output)(matrix), dtype=dtype)

    def anomaly_score(self, frame: pd.DataFrame) -> np.ndarray:
        """An anomaly model's score per row: higher is more anomalous; a row is flagged (1
        from ``predict``) above ``threshold``."""
        if self.task.kind is not TaskKind.ANOMALY:
            raise TypeError(f"anomaly_score is for anomaly models; this one is "
                            f"{self.task.kind.value}")
        return self._unsupervised(frame, "anomaly_score")

    @property
    def threshold(self) -> float:
        """An anomaly model's threshold: a score above it is an anomaly."""
        return float(self.members[0].estimator.threshold_)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Class labels (as strings) for classifiers, numbers for regressors, the segment
        (0 the largest, -1 noise) for clustering, 1 for an anomaly and 0 for an ordinary row."""
        if self.task.kind in (TaskKind.CLUSTERING, TaskKind.ANOMALY):
            return self._unsupervised(frame, "predict")
        if self.task.kind.is_classification:
            return self.labels(self.predict_proba(frame), frame)
        return self._blend(frame)

    def labels(self, proba: np.ndarray,
               rows: pd.DataFrame | Mapping[str, Sequence[Any]]) -> np.ndarray:
        """A classifier's label for each row of ``proba``: the most probable class, or, with
        --fairness-constraint, what its group's thresholds decide (``rows`` holds the
        sensitive columns: a frame, or columns of values)."""
        if self.thresholds is None or len(proba) == 0:
            return np.asarray(np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)])
        columns = {name: list(rows[name]) for name in self.thresholds.columns if name in rows}
        return self.thresholds.labels(proba, columns, self.classes)
