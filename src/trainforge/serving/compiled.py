"""The fast path: a fitted model compiled into plain-Python column plans and a direct model call.

Building a one-row DataFrame and running the preprocessor's ``transform`` costs about 0.7 ms;
the booster itself about 0.02 ms. So for small requests the served model skips pandas: its
preprocessing is compiled once (``plans``) and each member's estimator is called through the
compiler its type has in ``estimators.COMPILERS``, or through its own predict when it has none.
A preprocessing step the compiler does not know makes ``compile_model`` return None, and the
model is served through ``TabularModel`` (pandas) instead. ``verify`` compares both paths on
probe records before the fast path is trusted.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trainforge.algorithms.model import FeatureSpec, Member, TabularModel, probabilities_from_blend
from trainforge.serving.estimators import ColumnsCall, Output, compile_estimator
from trainforge.serving.plans import (
    Column,
    ColumnsFn,
    FastPathMiss,
    Unsupported,
    compile_preprocessor,
    known_categories,
)

log = logging.getLogger(__name__)


# ---- the model --------------------------------------------------------------------------------
def _to_model_values(spec: FeatureSpec) -> Callable[[Column], Column]:
    """The per-column conversion ``coerce_frame`` applies, on validated request values."""
    if spec.dtype == "number":
        return lambda col: [math.nan if v is None else float(v) for v in col]
    if spec.dtype == "boolean":
        return lambda col: [None if v is None else str(v) for v in col]
    if spec.dtype == "string":
        return _identity_column
    raise Unsupported(f"{spec.dtype} feature {spec.name!r}")


def _identity_column(column: Column) -> Column:
    return column


class CompiledModel:
    """A TabularModel's blend, computed from validated columns without pandas."""

    def __init__(self, model: TabularModel) -> None:
        self.model = model
        self.classify = model.task.kind.is_classification
        self._names = [spec.name for spec in model.features]
        self._convert = [_to_model_values(spec) for spec in model.features]
        output = Output(classify=self.classify, n_classes=len(model.classes))
        total = sum(m.weight for m in model.members)
        # members often share one fitted preprocessor: compile and run each only once
        transforms: dict[int, int] = {}
        self._transforms: list[ColumnsFn] = []
        self._members: list[tuple[float, int, ColumnsCall]] = []
        # the members served by their estimator's own predict, as "algorithm (Type)"
        self.own_predict: list[str] = []
        for m in model.members:
            if id(m.preprocessor) not in transforms:
                transforms[id(m.preprocessor)] = len(self._transforms)
                self._transforms.append(compile_preprocessor(m.preprocessor, self._names))
            call, compiled = compile_estimator(m.estimator, output)
            if not compiled:
                self.own_predict.append(f"{m.algorithm} ({type(m.estimator).__name__})")
            self._members.append((m.weight / total, transforms[id(m.preprocessor)], call))
        if self.own_predict:
            log.info("no estimator compiler for %s: served through its own predict",
                     ", ".join(self.own_predict))

    def _prepared(self, columns: dict[str, Column]) -> list[list[Column]]:
        inputs = [convert(columns[name]) for convert, name in zip(self._convert, self._names,
                                                                 strict=True)]
        return [transform(inputs) for transform in self._transforms]

    def member_matrices(self, columns: dict[str, Column]) -> list[np.ndarray]:
        """Each member's encoded rows (rows × its encoded columns), as its estimator sees them:
        what the explanations of tree members start from."""
        prepared = self._prepared(columns)
        return [np.array(prepared[which], dtype="float64").T for _, which, _ in self._members]

    def blend(self, columns: dict[str, Column]) -> np.ndarray:
        """Same numbers as ``TabularModel`` gives: probabilities, or values for a regressor."""
        prepared = self._prepared(columns)
        blended: np.ndarray | None = None
        for share, which, call in self._members:
            part = call(prepared[which]) * share
            blended = part if blended is None else blended + part
        assert blended is not None  # a model always has at least one member
        return probabilities_from_blend(blended) if self.classify else blended


def compile_model(model: TabularModel) -> CompiledModel | None:
    """The fast path for ``model``, or None when one of its steps is not compilable."""
    try:
        return CompiledModel(model)
    except Unsupported as reason:
        log.info("serving %s through pandas: cannot compile %s", _describe(model.members), reason)
        return None


def _describe(members: Sequence[Member]) -> str:
    counts = Counter(m.algorithm for m in members)
    return ", ".join(f"{n}×{name}" if n > 1 else name for name, n in counts.items())


# ---- trust, but verify ------------------------------------------------------------------------
# XGBoost adds its trees in float32, and the walk's order of additions can differ from its own
# by a few float32 steps (2e-8 on a probability of 0.06 in a 4-booster adult blend, where
# 1e-9 turned the fast path off and explain=true took 15 ms instead of 4); a compiling
# mistake moves outputs by far more than float32's 1e-7
AGREES_RTOL = 1e-6
def probe_columns(model: TabularModel) -> dict[str, Column]:
    """A few records touching known and unseen categories, numbers and missing values."""
    known: dict[str, list[Any]] = {}
    for member in model.members:
        known.update(known_categories(member.preprocessor))
    numbers: Column = [1.0, 37.5, -2.0, None, 0.0]
    columns: dict[str, Column] = {}
    for spec in model.features:
        if spec.dtype == "number":
            columns[spec.name] = numbers
        elif spec.dtype == "boolean":
            columns[spec.name] = [True, False, True, None, False]
        else:
            seen = [str(v) for v in known.get(spec.name, [])][:3]
            columns[spec.name] = (seen + ["an unseen value", None] * 3)[:5]
    return columns


def verify(compiled: CompiledModel, columns: dict[str, Column]) -> bool:
    """Whether the fast path gives the model's own numbers on each row of ``columns``.

    Rows the model itself refuses (an unseen category with ``handle_unknown="error"``) are
    skipped; at least one row must be compared for the fast path to be trusted.
    """
    import pandas as pd

    model = compiled.model
    n_rows = len(next(iter(columns.values()), []))
    compared = 0
    for row in range(n_rows):
        one = {name: values[row:row + 1] for name, values in columns.items()}
        try:
            frame = pd.DataFrame(one)
            expected = model.predict_proba(frame) if compiled.classify else model.predict(frame)
        except Exception:
            log.debug("probe record %d refused by the model itself", row, exc_info=True)
            continue
        try:
            got = compiled.blend(one)
        except FastPathMiss:
            continue  # a value the fast path hands to the model itself: nothing to compare
        except Exception:  # any failure means the fast path is not trusted
            log.warning("fast path disabled: it failed on a probe record", exc_info=True)
            return False
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=AGREES_RTOL,
                                                          atol=1e-12):
            log.warning("fast path disabled: it differs from the model on a probe record")
            return False
        compared += 1
    return compared > 0
