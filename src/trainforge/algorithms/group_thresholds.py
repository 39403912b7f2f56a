"""Per-group decision rules: how a fairness-constrained classifier decides at predict time.

``--fairness-constraint`` fits Fairlearn's ``ThresholdOptimizer`` (``evaluation.mitigation``),
which picks for each sensitive group a mix of two threshold rules on the positive class's
probability. This module holds that choice as plain numbers (saved in the manifest as JSON,
never a pickled optimiser) and applies it, so the SDK, batch prediction and serving decide
alike without importing Fairlearn.

Fairlearn draws the mix at random on every call. Here the draw is a hash of the row's group and
score: the same row gets the same answer every time and at every door (alone or in a batch,
in-process or served), and the groups still get the mix Fairlearn chose on average.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trainforge.errors import InvalidRequest

JOIN = "×"  # an intersection's group: "Female×Black", its feature "sex×race"
MISSING = "(missing)"  # the group of a row whose sensitive value is missing
_SCORE_DIGITS = 9  # the score is rounded before it is hashed: the fast path may differ at 1e-15


def group_value(value: Any) -> str:
    """A sensitive value as a group's name: 1, 1.0 and "1" are one group; missing is its own."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def group_keys(columns: Mapping[str, Sequence[Any]], names: Sequence[str]) -> list[str]:
    """Each row's group across ``names`` (the intersection, joined by ``JOIN``)."""
    per_column = [[group_value(v) for v in columns[name]] for name in names]
    return [JOIN.join(parts) for parts in zip(*per_column, strict=True)]


@dataclass(frozen=True)
class ThresholdRule:
    """Predict positive when the score is above (``>``) or below (``<``) ``threshold``."""

    operator: str
    threshold: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        above = scores > self.threshold if self.operator == ">" else scores < self.threshold
        return np.asarray(above, dtype="float64")


@dataclass(frozen=True)
class GroupRule:
    """One group's mix: rule0 with probability p0, rule1 with p1; and, for equalized odds, a
    constant answer with probability ``p_ignore``."""

    p0: float
    rule0: ThresholdRule
    p1: float
    rule1: ThresholdRule
    p_ignore: float = 0.0
    constant: float = 0.0

    def positive_probability(self, scores: np.ndarray) -> np.ndarray:
        mixed = self.p0 * self.rule0(scores) + self.p1 * self.rule1(scores)
        return np.asarray(self.p_ignore * self.constant + (1.0 - self.p_ignore) * mixed)

    def to_dict(self) -> dict[str, Any]:
        return {"p0": self.p0, "operator0": self.rule0.operator,
                "threshold0": self.rule0.threshold, "p1": self.p1,
                "operator1": self.rule1.operator, "threshold1": self.rule1.threshold,
                "p_ignore": self.p_ignore, "constant": self.constant}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GroupRule:
        return cls(p0=float(raw["p0"]),
                   rule0=ThresholdRule(str(raw["operator0"]), float(raw["threshold0"])),
                   p1=float(raw["p1"]),
                   rule1=ThresholdRule(str(raw["operator1"]), float(raw["threshold1"])),
                   p_ignore=float(raw["p_ignore"]), constant=float(raw["constant"]))


def _saved(value: float) -> float | str:
    # JSON has no infinity: Fairlearn's "always" and "never" rules are ±inf, kept as strings
    # that float() reads back
    return value if math.isfinite(value) else str(value)


@dataclass(frozen=True)
class GroupThresholds:
    """The decision rule of a constrained binary classifier: one ``GroupRule`` per group of
    ``columns`` (their intersection when several), on the probability of ``positive_class``."""

    columns: tuple[str, ...]
    constraint: str
    positive_class: str
    rules: dict[str, GroupRule]

    def positive_probability(self, scores: np.ndarray, keys: Sequence[str]) -> np.ndarray:
        """Each row's chance of a positive answer. A group not seen in training (or a row
        whose value was never seen) keeps the model's own answer (score above 0.5)."""
        chances = np.asarray(scores > 0.5, dtype="float64")
        key_array = np.asarray(keys, dtype=object)
        for key, rule in self.rules.items():
            rows = key_array == key
            if rows.any():
                chances[rows] = rule.positive_probability(scores[rows])
        return chances

    def decide(self, scores: np.ndarray, keys: Sequence[str]) -> np.ndarray:
        """True where a row is answered ``positive_class``: deterministic per group and score
        (see the module's docstring)."""
        chances = self.positive_probability(scores, keys)
        positive = chances >= 1.0
        for row in np.flatnonzero((chances > 0.0) & (chances < 1.0)).tolist():
            positive[row] = _draw(keys[row], float(scores[row])) < chances[row]
        return positive

    def keys_of(self, columns: Mapping[str, Sequence[Any]]) -> list[str]:
        """Each row's group; InvalidRequest naming a sensitive column the input lacks."""
        for name in self.columns:
            if name not in columns:
                raise InvalidRequest(f"column {name!r} is needed: this model's "
                                     f"{self.constraint} constraint decides per group of "
                                     f"{', '.join(self.columns)}; send it with every row")
        return group_keys(columns, self.columns)

    def labels(self, proba: np.ndarray, columns: Mapping[str, Sequence[Any]],
               classes: Sequence[str]) -> np.ndarray:
        """The class label of each row of a binary classifier's ``proba`` (classes order)."""
        positive_at = list(classes).index(self.positive_class)
        negative = classes[1 - positive_at]
        chosen = self.decide(proba[:, positive_at], self.keys_of(columns))
        return np.where(chosen, self.positive_class, negative).astype(object)

    def to_manifest(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "constraint": self.constraint,
                "positive_class": self.positive_class,
                "groups": {key: {k: _saved(v) if isinstance(v, float) else v
                                 for k, v in rule.to_dict().items()}
                           for key, rule in self.rules.items()}}

    @classmethod
    def from_manifest(cls, raw: Mapping[str, Any]) -> GroupThresholds:
        return cls(columns=tuple(raw["columns"]), constraint=str(raw["constraint"]),
                   positive_class=str(raw["positive_class"]),
                   rules={str(k): GroupRule.from_dict(v) for k, v in raw["groups"].items()})


def _draw(key: str, score: float) -> float:
    """A number in [0, 1) fixed by the group and the rounded score."""
    text = f"{key}|{round(score, _SCORE_DIGITS):.{_SCORE_DIGITS}f}".encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
