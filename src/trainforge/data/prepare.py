"""Turn a table's feature columns into the numeric matrix an estimator learns from.

Two styles, one per kind of model (``Algorithm.preprocessing``):

- ``"linear"``: numbers median-imputed (plus a missing indicator where training had gaps) and
  standard-scaled; low-cardinality categories one-hot (rare ones grouped, unknown ones ignored);
  high-cardinality categories target-encoded (scikit-learn's ``TargetEncoder``).
- ``"tree"``: numbers as they are (NaN kept), categories as ordinal codes by frequency
  (unknown and missing → NaN), booleans 0/1.

Both styles turn datetimes into parts (year, month, day, weekday, hour, days since epoch) and
text into TF-IDF weights (the output is then a scipy sparse matrix): words, word pairs and
character n-grams for the linear style, the most frequent words for trees.

Input is a frame as ``trainforge.algorithms.model.coerce_frame`` makes it (categories and text
as ``str`` or ``None``, numbers float64, datetimes datetime64) — training and serving pass the
same coercion, so they share one path. The fitted state is numpy arrays, builtins and
scikit-learn objects only: a preprocessor saves and loads with ``skops.io``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import TargetEncoder

from trainforge.data.dataset import ColumnKind, Schema
from trainforge.errors import DataError

Preprocessing = Literal["linear", "tree"]
TargetType = Literal["binary", "multiclass", "continuous"]

_TRUE = frozenset({"true", "1", "1.0", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "0.0", "no", "n", "f"})
_MISSING = "\x00missing"  # the level a target encoder sees for a missing category
LINEAR_TEXT_TERMS = 20_000  # per analyser (words, characters); sparse, so cheap for linear models
_DATE_PARTS = ("year", "month", "day", "weekday", "hour", "days_since_epoch")
FEW_ROWS = 64  # a serving request's size: its columns are read, and encoded, cell by cell


class NotPreparable(DataError):
    def __init__(self, column: str, detail: str) -> None:
        super().__init__(f"feature column {column!r} {detail}; drop the column from the features "
                         "or fix its kind in the schema")


class TablePreprocessor(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Per-column plan: each feature becomes one or more numeric output columns.

    Args:
        columns: (name, kind) pairs in input order; kind is a ``ColumnKind`` value.
        style: "linear" or "tree" (see the module docstring).
        max_one_hot: categories above this many levels are target-encoded (linear style).
        min_category_count: levels seen fewer times are grouped as "infrequent" (linear style).
        max_text_terms: the TF-IDF vocabulary cap per text column.
        target_type: what ``y`` is, for the target encoder.
        compress_tails: (linear style) put numeric columns whose values are heavily skewed
            (|skewness| > 2: incomes, counts, amounts) on a signed log scale before scaling,
            so a few extreme rows cannot dominate distances. Clustering sets it; models
            learned from a target do not need it.
    """

    def __init__(self, columns: Sequence[tuple[str, str]] = (), *, style: str = "tree",
                 max_one_hot: int = 30, min_category_count: int = 5,
                 max_text_terms: int = 1000, target_type: str = "continuous",
                 compress_tails: bool = False) -> None:
        self.columns = columns
        self.compress_tails = compress_tails
        self.style = style
        self.max_one_hot = max_one_hot
        self.min_category_count = min_category_count
        self.max_text_terms = max_text_terms
        self.target_type = target_type

    @classmethod
    def from_plan(cls, columns: Sequence[tuple[str, str]], plan: list[dict[str, Any]]) -> Self:
        """A fitted linear-style preprocessor whose plan was decided without rows (a
        federation's declared schema: every holder encodes alike, none's rows decide it).
        ``plan`` holds "number" and "onehot" steps in the form ``fit`` writes them."""
        prepared = cls(columns, style="linear")
        prepared.plan_ = [dict(step) for step in plan]
        prepared.encoders_ = []
        prepared.n_features_in_ = len(columns)
        prepared.feature_names_in_ = np.asarray([name for name, _ in columns], dtype=object)
        prepared.n_features_out_ = sum(int(step["width"]) for step in plan)
        return prepared

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any = None, *,
            vocabulary: pd.DataFrame | None = None) -> Self:
        """``vocabulary``: rows without a label (coerced like ``X``) whose text columns join
        the TF-IDF fit: words and their rarity are learned from every text the model will
        meet, which needs no label; nothing else is learned from them."""
        self._fit(X, y, cross_fit=False, vocabulary=vocabulary)
        return self

    def fit_transform(self, X: pd.DataFrame, y: Any = None, *,
                      vocabulary: pd.DataFrame | None = None, **_: Any) -> Any:
        """Fit, then transform the same rows; target encodings of these rows are cross-fitted
        (each row encoded by a model that did not see it), so training does not leak."""
        return self._fit(X, y, cross_fit=True, vocabulary=vocabulary)

    def _fit(self, X: pd.DataFrame, y: Any, *, cross_fit: bool,
             vocabulary: pd.DataFrame | None) -> Any:
        if self.style not in ("linear", "tree"):
            raise ValueError(f"style must be 'linear' or 'tree', not {self.style!r}")
        self.plan_: list[dict[str, Any]] = []
        self.encoders_: list[Any] = []
        self.n_features_in_ = len(self.columns)
        self.feature_names_in_ = np.asarray([name for name, _ in self.columns], dtype=object)
        cross_fitted: dict[int, np.ndarray] = {}
        for name, kind in self.columns:
            if name not in X.columns:
                raise NotPreparable(name, "is not in the training table")
            values = X[name]
            step = self._plan_column(name, ColumnKind(kind), values)
            if step["op"] == "target":
                if y is None:
                    raise ValueError("the linear style needs y to target-encode "
                                     f"high-cardinality column {name!r}")
                folds = (KFold if self.target_type == "continuous" else StratifiedKFold)(
                    n_splits=5, shuffle=True, random_state=0)
                encoder = TargetEncoder(target_type=self.target_type, cv=folds)
                levels = _levels_with_missing(values)
                if cross_fit:
                    cross_fitted[len(self.plan_)] = encoder.fit_transform(levels, y)
                else:
                    encoder.fit(levels, y)
                step["encoder"] = len(self.encoders_)
                step["width"] = int(encoder.transform(levels[:1]).shape[1])
                self.encoders_.append(encoder)
            elif step["op"] == "text":
                vectorizer = _text_vectorizer(self.style, self.max_text_terms)
                texts = values.fillna("").astype(str).tolist()
                if vocabulary is not None and name in vocabulary.columns:
                    texts += vocabulary[name].fillna("").astype(str).tolist()
                try:
                    vectorizer.fit(texts)
                except ValueError as exc:  # an empty vocabulary: no words at all
                    raise NotPreparable(name, f"has no words to learn from ({exc})") from exc
                step["encoder"] = len(self.encoders_)
                step["width"] = int(vectorizer.transform(texts[:1]).shape[1])
                self.encoders_.append(vectorizer)
            self.plan_.append(step)
        self.n_features_out_ = sum(int(s["width"]) for s in self.plan_)
        if not cross_fit:
            return None
        return self._transform(X, cross_fitted)

    def _plan_column(self, name: str, kind: ColumnKind, values: pd.Series) -> dict[str, Any]:
        if kind in (ColumnKind.CATEGORICAL, ColumnKind.ID):
            return self._plan_category(name, values)
        if kind is ColumnKind.TEXT:
            return {"name": name, "op": "text"}
        if kind is ColumnKind.BOOLEAN:
            positive = _positive_level(values)
            raw = _boolean_values(values, positive)
            step = {"name": name, "op": "boolean", "positive": positive}
        elif kind is ColumnKind.DATETIME:
            raw = _date_parts(values)
            step = {"name": name, "op": "datetime"}
        elif kind is ColumnKind.NUMERIC:
            raw = _as_float(name, values)[:, None]
            step = {"name": name, "op": "number"}
        else:
            raise NotPreparable(name, f"has kind {kind.value!r}, which tables cannot use")
        step.update(self._plan_numbers(raw))
        return step

    def _plan_numbers(self, raw: np.ndarray) -> dict[str, Any]:
        """The finishing of numeric columns: linear imputes and scales, tree keeps them."""
        if self.style == "tree":
            return {"width": raw.shape[1]}
        missing = np.isnan(raw)
        with np.errstate(all="ignore"):
            fill = np.where(missing.all(axis=0), 0.0, np.nanmedian(
                np.where(missing.all(axis=0), 0.0, raw), axis=0))
            filled = np.where(missing, fill, raw)
            log = (_skewed(filled) if getattr(self, "compress_tails", False)
                   else np.zeros(raw.shape[1], dtype=bool))
            filled = _signed_log(filled, log)
            center = filled.mean(axis=0)
            scale = filled.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        indicate = missing.any(axis=0) & ~missing.all(axis=0)
        plan = {"fill": fill.tolist(), "center": center.tolist(), "scale": scale.tolist(),
                "indicate": indicate.tolist(), "width": raw.shape[1] + int(indicate.sum())}
        if log.any():
            plan["log"] = log.tolist()
        return plan

    def _plan_category(self, name: str, values: pd.Series) -> dict[str, Any]:
        counts = Counter(v for v in values.tolist() if not _missing(v))
        ranked = [level for level, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        if self.style == "tree":
            return {"name": name, "op": "ordinal", "codes": {v: i for i, v in enumerate(ranked)},
                    "width": 1}
        frequent = [v for v in ranked if counts[v] >= self.min_category_count]
        if len(frequent) > self.max_one_hot:
            return {"name": name, "op": "target"}
        has_rare = len(frequent) < len(ranked)
        has_missing = bool(values.isna().any())
        codes = {v: i for i, v in enumerate(frequent)}
        rare_code = len(frequent) if has_rare else -1
        for level in ranked[len(frequent):]:
            codes[level] = rare_code
        missing_code = len(frequent) + int(has_rare) if has_missing else -1
        return {"name": name, "op": "onehot", "codes": codes, "missing": missing_code,
                "width": len(frequent) + int(has_rare) + int(has_missing)}

    # ---- transforming -----------------------------------------------------------------------
    def transform(self, X: pd.DataFrame) -> Any:
        """The matrix for ``X``: float64 numpy, or scipy CSR when text columns are present."""
        if not hasattr(self, "plan_"):
            raise ValueError("this preprocessor is not fitted; call `.fit()` first")
        return self._transform(X, {})

    def _transform(self, X: pd.DataFrame, cross_fitted: dict[int, np.ndarray]) -> Any:
        n_rows = len(X)
        arrays = _column_arrays(X, [step["name"] for step in self.plan_])
        dense_width = sum(int(s["width"]) for s in self.plan_ if s["op"] != "text")
        dense = np.zeros((n_rows, dense_width), dtype=np.float64)
        sparse_blocks: list[Any] = []
        offset = 0
        for index, step in enumerate(self.plan_):
            values = arrays[step["name"]]
            op = step["op"]
            if op == "text":
                texts = [v if isinstance(v, str) else "" for v in values.tolist()]
                sparse_blocks.append(self.encoders_[step["encoder"]].transform(texts))
                continue
            width = int(step["width"])
            block = dense[:, offset:offset + width]
            if op == "ordinal":
                block[:, 0] = _per_level(values, _code_of(step["codes"], unknown=np.nan),
                                         missing=np.nan, dtype=np.float64)
            elif op == "onehot":
                self._one_hot(step, values, block)
            elif op == "target":
                block[:] = (cross_fitted[index] if index in cross_fitted else
                            self.encoders_[step["encoder"]].transform(_levels_with_missing(values)))
            else:
                self._numbers(step, _raw_numbers(step, values), block)
            offset += width
        if not sparse_blocks:
            return dense
        return sp.hstack([sp.csr_matrix(dense), *sparse_blocks], format="csr")

    @staticmethod
    def _one_hot(step: dict[str, Any], values: np.ndarray, block: np.ndarray) -> None:
        hot = _per_level(values, _code_of(step["codes"], unknown=-1), missing=step["missing"],
                         dtype=np.int64)
        rows = np.arange(len(hot))
        known = hot >= 0  # an unseen level sets no column
        block[rows[known], hot[known]] = 1.0

    def _numbers(self, step: dict[str, Any], raw: np.ndarray, block: np.ndarray) -> None:
        if self.style == "tree":
            block[:] = raw
            return
        missing = np.isnan(raw)
        fill = np.asarray(step["fill"])
        filled = np.where(missing, fill, raw)
        if "log" in step:
            filled = _signed_log(filled, np.asarray(step["log"], dtype=bool))
        n_raw = raw.shape[1]
        block[:, :n_raw] = (filled - np.asarray(step["center"])) / np.asarray(step["scale"])
        indicate = np.asarray(step["indicate"], dtype=bool)
        if indicate.any():
            block[:, n_raw:] = missing[:, indicate]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names: list[str] = []
        for step in self.plan_:
            names += _output_names(step, self.encoders_)
        return np.asarray(names, dtype=object)


def _text_vectorizer(style: str, max_terms: int) -> Any:
    """TF-IDF of a text column. Linear models get words and word pairs plus character
    n-grams (spelling variants, numbers, "£", "!!!" carry signal in short texts); trees get
    the most frequent words only, as each term costs them a split search."""
    words = TfidfVectorizer(max_features=max_terms, dtype=np.float64, sublinear_tf=True,
                            ngram_range=(1, 2) if style == "linear" else (1, 1))
    if style != "linear":
        return words
    from sklearn.pipeline import FeatureUnion

    characters = TfidfVectorizer(max_features=max_terms, dtype=np.float64, sublinear_tf=True,
                                 analyzer="char_wb", ngram_range=(2, 5))
    return FeatureUnion([("words", words), ("characters", characters)])


def make_preprocessor(schema: Schema, features: Sequence[str], *, style: Preprocessing,
                      target_type: TargetType = "continuous", max_one_hot: int = 30,
                      max_text_terms: int | None = None,
                      compress_tails: bool = False) -> TablePreprocessor:
    """An unfitted preprocessor for ``features`` (each must be in ``schema``).

    Example:
        >>> prep = make_preprocessor({"age": ColumnKind.NUMERIC}, ["age"], style="linear")
        >>> prep.fit_transform(pd.DataFrame({"age": [1.0, 3.0]})).tolist()
        [[-1.0], [1.0]]
    """
    missing = [f for f in features if f not in schema]
    if missing:
        raise NotPreparable(missing[0], f"has no kind in the schema (schema has: "
                            f"{', '.join(list(schema)[:12])})")
    terms = (max_text_terms if max_text_terms is not None else
             (LINEAR_TEXT_TERMS if style == "linear" else 300))
    return TablePreprocessor([(f, ColumnKind(schema[f]).value) for f in features], style=style,
                             max_one_hot=max_one_hot, max_text_terms=terms,
                             target_type=target_type, compress_tails=compress_tails)


# ---- column helpers (pure functions) ----------------------------------------------------------
SKEWED = 2.0  # |skewness| above this is a long tail (an exponential's is 2, a log-normal's more)


def _skewed(values: np.ndarray) -> np.ndarray:
    """Which columns of ``values`` have a long tail (sample skewness beyond ``SKEWED``)."""
    with np.errstate(all="ignore"):
        centred = values - values.mean(axis=0)
        spread = centred.std(axis=0)
        skew = (centred ** 3).mean(axis=0) / np.where(spread > 0, spread, 1.0) ** 3
    return np.asarray((np.abs(skew) > SKEWED) & (spread > 0), dtype=bool)


def _signed_log(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)`` on the flagged columns: zero stays zero, order is kept."""
    if not columns.any():
        return values
    out = np.array(values, dtype=np.float64, copy=True)
    out[:, columns] = np.sign(out[:, columns]) * np.log1p(np.abs(out[:, columns]))
    return out


def _missing(value: Any) -> bool:
    """None or a float NaN: how a coerced frame spells a missing category or text."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_float(name: str, values: pd.Series) -> np.ndarray:
    try:
        return _finite(np.asarray(pd.to_numeric(values, errors="raise"), dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise NotPreparable(name, f"is numeric in the schema but holds non-numbers ({exc})") \
            from exc


def _finite(numbers: np.ndarray) -> np.ndarray:
    """Infinities (``inf`` in a CSV, a division by zero upstream) as missing values: no model
    learns from them, and the imputation already knows what to do with a missing number."""
    infinite = np.isinf(numbers)
    if infinite.any():
        numbers = np.where(infinite, np.nan, numbers)
    return numbers


def _positive_level(values: pd.Series) -> str:
    """The level read as 1: a recognised 'true' spelling, else the last level in sorted order."""
    levels = sorted({str(v) for v in values.tolist() if not _missing(v)})
    for level in levels:
        if level.strip().lower() in _TRUE:
            return level
    falses = [lv for lv in levels if lv.strip().lower() in _FALSE]
    others = [lv for lv in levels if lv not in falses]
    return (others or levels or [""])[-1]


def _per_level(values: Any, value_of: Callable[[Any], float], *, missing: float,
               dtype: type[np.generic]) -> np.ndarray:
    """``value_of(cell)`` for each cell of ``values``; ``missing`` where it is None or NaN.
    Past a serving request's few rows each distinct level is looked up once (pandas' hash
    table): a frame of thousands of rows holds a handful of levels. As in a dict look-up,
    levels Python counts equal (``True`` and ``1``) are one level."""
    if len(values) > FEW_ROWS:
        found, levels = pd.factorize(values, use_na_sentinel=True)
        # a missing value is -1, which indexes the entry appended last
        table = np.asarray([value_of(v) for v in levels.tolist()] + [missing], dtype=dtype)
        picked: np.ndarray = table[found]
        return picked
    # a serving request: a per-cell look-up is quicker than building a table
    return np.asarray([missing if _missing(v) else value_of(v) for v in list(values)],
                      dtype=dtype)


def _code_of(codes: Mapping[Any, float], *, unknown: float) -> Callable[[Any], float]:
    return lambda level: codes.get(level, unknown)


def _boolean_values(values: Any, positive: str) -> np.ndarray:
    return _per_level(values, lambda v: float(v == positive or str(v) == positive),
                      missing=np.nan, dtype=np.float64)[:, None]


def _as_datetime64(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return array.astype("datetime64[ns]")
    if isinstance(values, pd.Series):  # fitting: a column of any dtype
        stamps = pd.to_datetime(values, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert(None)
        return np.asarray(stamps.to_numpy(), dtype="datetime64[ns]")
    # an object column of Timestamps / NaT / None, as DataFrame.to_numpy gives for a small frame
    nat = np.iinfo(np.int64).min
    ints = [pd.Timestamp(v).value if not _missing(v) else nat for v in array.tolist()]
    return np.asarray(ints, dtype=np.int64).view("datetime64[ns]")


def _date_parts(values: Any) -> np.ndarray:
    stamps = _as_datetime64(values)
    missing = np.isnat(stamps)
    days = stamps.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    parts = [
        days.astype("datetime64[Y]").astype(np.int64) + 1970,
        months.astype(np.int64) % 12 + 1,
        (days - months).astype(np.int64) + 1,
        (days.astype(np.int64) + 3) % 7,  # 1970-01-01 was a Thursday; Monday is 0
        (stamps - days).astype("timedelta64[h]").astype(np.int64),
    ]
    out = np.column_stack([np.asarray(p, dtype=np.float64) for p in parts] +
                          [(stamps - np.datetime64(0, "ns")).astype(np.int64) / 86_400e9])
    out[missing] = np.nan
    return out


def _raw_numbers(step: dict[str, Any], values: Any) -> np.ndarray:
    op = step["op"]
    if op == "boolean":
        return _boolean_values(values, step["positive"])
    if op == "datetime":
        return _date_parts(values)
    try:
        return _finite(np.asarray(values, dtype=np.float64))[:, None]
    except (TypeError, ValueError):
        return _finite(np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"),
                                  dtype=np.float64))[:, None]


def _column_arrays(X: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    """Each needed column as a numpy array. A few rows (a serving request) go through one
    ``to_numpy`` call: selecting columns one by one costs more than the whole transform."""
    if len(X) <= FEW_ROWS:
        position = {str(c): i for i, c in enumerate(X.columns)}
        everything = X.to_numpy()
        return {name: everything[:, position[name]] for name in names}
    return {name: X[name].to_numpy() for name in names}


def _levels_with_missing(values: Any) -> np.ndarray:
    return np.asarray([[_MISSING if _missing(v) else str(v)] for v in list(values)],
                      dtype=object)


def _output_names(step: dict[str, Any], encoders: list[Any]) -> list[str]:
    base, op = step["name"], step["op"]
    if op == "text":
        return [f"{base}__{w}" for w in encoders[step["encoder"]].get_feature_names_out()]
    if op in ("ordinal", "target"):
        return [base] if int(step["width"]) == 1 else [f"{base}__{i}" for i in
                                                        range(int(step["width"]))]
    if op == "onehot":
        labels = {code: level for level, code in reversed(list(step["codes"].items()))}
        if step["missing"] >= 0:
            labels[step["missing"]] = "missing"
        return [f"{base}={labels.get(i, 'infrequent')}" for i in range(int(step["width"]))]
    parts = [f"{base}__{p}" for p in _DATE_PARTS] if op == "datetime" else [base]
    indicate = step.get("indicate", [False] * len(parts))
    flags = [f"{p}__missing" for p, on in zip(parts, indicate, strict=True) if on]
    return parts + flags
