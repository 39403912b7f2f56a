"""Fitted preprocessing compiled into functions over columns of plain Python values.

A compiled step takes a list of columns (one list of values per input column, all the same
length) and returns its output columns, computing exactly what the fitted object's
``transform`` computes. Known: trainforge's ``TablePreprocessor`` (numbers, booleans,
categories in both styles) and scikit-learn's ColumnTransformer, Pipeline, OrdinalEncoder,
OneHotEncoder, SimpleImputer, StandardScaler and passthrough. Anything else raises
``Unsupported`` and the model is served through pandas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Column = list[Any]
ColumnsFn = Callable[[list[Column]], list[Column]]


class Unsupported(Exception):
    """A fitted object the compiler does not know: serve this model through pandas."""


class FastPathMiss(Exception):
    """A value the compiled plan cannot encode the way the original would (it would raise)."""


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _identity(columns: list[Column]) -> list[Column]:
    return columns


# ---- per-column encoders ----------------------------------------------------------------------
def _code_table(categories: Sequence[Any]) -> tuple[dict[Any, int], int | None]:
    """Category → position, and the position of the NaN category if there is one.

    As in scikit-learn, only NaN is the "missing" category; None is an ordinary one.
    """
    table: dict[Any, int] = {}
    nan_at: int | None = None
    for code, category in enumerate(categories):
        if _is_nan(category):
            nan_at = code
        else:
            table[category.item() if isinstance(category, np.generic) else category] = code
    return table, nan_at


def _ordinal_column(categories: Sequence[Any], encoder: Any) -> Callable[[Column], Column]:
    table, nan_at = _code_table(categories)
    codes = {key: float(code) for key, code in table.items()}
    missing = float(encoder.encoded_missing_value) if nan_at is not None else None
    use_unknown = encoder.handle_unknown == "use_encoded_value"
    unknown = float(encoder.unknown_value) if use_unknown else math.nan

    def encode(values: Column) -> Column:
        out: Column = []
        for value in values:
            if missing is not None and _is_nan(value):
                out.append(missing)
            elif (code := codes.get(value)) is not None:
                out.append(code)
            elif use_unknown:
                out.append(unknown)
            else:
                raise FastPathMiss(f"unknown category {value!r}")
        return out

    return encode


def _ordinal(encoder: Any) -> ColumnsFn:
    if getattr(encoder, "_infrequent_enabled", False):
        raise Unsupported("OrdinalEncoder with infrequent categories")
    encoders = [_ordinal_column(c, encoder) for c in encoder.categories_]
    return lambda columns: [enc(col) for enc, col in zip(encoders, columns, strict=True)]


def _one_hot_column(categories: Sequence[Any], encoder: Any) -> Callable[[Column], list[Column]]:
    table, nan_at = _code_table(categories)
    width = len(categories)
    ignore_unknown = encoder.handle_unknown in ("ignore", "infrequent_if_exist")

    def encode(values: Column) -> list[Column]:
        out = [[0.0] * len(values) for _ in range(width)]
        for row, value in enumerate(values):
            at = nan_at if _is_nan(value) else table.get(value)
            if at is not None:
                out[at][row] = 1.0
            elif not ignore_unknown:
                raise FastPathMiss(f"unknown category {value!r}")
        return out

    return encode


def _one_hot(encoder: Any) -> ColumnsFn:
    if getattr(encoder, "_infrequent_enabled", False) or encoder.drop_idx_ is not None:
        raise Unsupported("OneHotEncoder with dropped or infrequent categories")
    if encoder.sparse_output:
        raise Unsupported("OneHotEncoder with sparse output")
    encoders = [_one_hot_column(c, encoder) for c in encoder.categories_]

    def encode(columns: list[Column]) -> list[Column]:
        return [out for enc, col in zip(encoders, columns, strict=True) for out in enc(col)]

    return encode


def _imputer(imputer: Any) -> ColumnsFn:
    if imputer.add_indicator or not _is_missing(imputer.missing_values):
        raise Unsupported("SimpleImputer with an indicator or a custom missing marker")
    fills = [v.item() if isinstance(v, np.generic) else v for v in imputer.statistics_]
    if any(_is_missing(f) for f in fills) and not imputer.keep_empty_features:
        raise Unsupported("SimpleImputer that drops all-missing columns")
    # scikit-learn's rule: missing_values=nan fills NaN but leaves None; None fills only None
    is_missing = _is_nan if imputer.missing_values is not None else (lambda v: v is None)

    def fill(columns: list[Column]) -> list[Column]:
        return [[f if is_missing(v) else v for v in col]
                for f, col in zip(fills, columns, strict=True)]

    return fill


def _scaler(scaler: Any) -> ColumnsFn:
    n_columns = int(scaler.n_features_in_)
    means = list(scaler.mean_) if scaler.with_mean else [0.0] * n_columns
    scales = list(scaler.scale_) if scaler.with_std else [1.0] * n_columns

    def scale(columns: list[Column]) -> list[Column]:
        return [[(float(v) - m) / s for v in col]
                for m, s, col in zip(means, scales, columns, strict=True)]

    return scale


def _pipeline(pipeline: Any) -> ColumnsFn:
    steps = [compile_transformer(step) for _, step in pipeline.steps]

    def run(columns: list[Column]) -> list[Column]:
        for step in steps:
            columns = step(columns)
        return columns

    return run


def _column_positions(selection: Any, names: Sequence[str]) -> list[int]:
    if isinstance(selection, str):
        return [list(names).index(selection)]
    picked = np.arange(len(names))[selection] if isinstance(selection, slice) else selection
    positions: list[int] = []
    items = list(picked)
    if items and isinstance(items[0], (bool, np.bool_)):
        return [i for i, keep in enumerate(items) if keep]
    for item in items:
        positions.append(list(names).index(item) if isinstance(item, str) else int(item))
    return positions


def _column_transformer(transformer: Any, incoming: Sequence[str] | None = None) -> ColumnsFn:
    """``incoming``: the names of the columns it is given (default: the ones it was fitted on)."""
    if getattr(transformer, "sparse_output_", False):
        raise Unsupported("ColumnTransformer with sparse output")
    if not hasattr(transformer, "feature_names_in_"):
        raise Unsupported("ColumnTransformer fitted without column names")
    fitted = [str(n) for n in transformer.feature_names_in_]
    at = _positions_in(incoming if incoming is not None else fitted)
    parts: list[tuple[list[int], ColumnsFn]] = []
    for _, step, selection in transformer.transformers_:
        positions = [at(fitted[p]) for p in _column_positions(selection, fitted)]
        if (isinstance(step, str) and step == "drop") or not positions:
            continue
        parts.append((positions, compile_transformer(step)))

    def run(columns: list[Column]) -> list[Column]:
        out: list[Column] = []
        for positions, step in parts:
            out.extend(step([columns[p] for p in positions]))
        return out

    return run


def _positions_in(names: Sequence[str]) -> Callable[[str], int]:
    index = {name: i for i, name in enumerate(names)}

    def at(name: str) -> int:
        if name not in index:
            raise Unsupported(f"a step reads column {name!r}, which the model's features lack")
        return index[name]

    return at


def compile_transformer(transformer: Any) -> ColumnsFn:
    """Compile one fitted step into a function over columns; raises Unsupported if unknown."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        OrdinalEncoder,
        StandardScaler,
    )

    if transformer is None or (isinstance(transformer, str) and transformer == "passthrough"):
        return _identity
    if type(transformer) is FunctionTransformer and transformer.func is None:
        return _identity  # how a fitted ColumnTransformer stores "passthrough"
    compilers: list[tuple[type, Callable[[Any], ColumnsFn]]] = [
        (ColumnTransformer, lambda t: _column_transformer(t)), (Pipeline, _pipeline),
        (OrdinalEncoder, _ordinal), (OneHotEncoder, _one_hot), (SimpleImputer, _imputer),
        (StandardScaler, _scaler)]
    for kind, compiler in compilers:
        if type(transformer) is kind:  # exact type: a subclass may transform differently
            return compiler(transformer)
    raise Unsupported(type(transformer).__name__)


# ---- trainforge's TablePreprocessor ----------------------------------------------------------
def _table_number(step: dict[str, Any], style: str) -> Callable[[Column], list[Column]]:
    """A numeric plan step: "tree" keeps the value; "linear" fills, scales, flags missing.

    Its values are floats already (NaN for missing): numbers and booleans are converted first.
    """
    if style == "tree":
        return lambda values: [values]
    fill, center, scale = float(step["fill"][0]), float(step["center"][0]), float(step["scale"][0])
    indicate = bool(step["indicate"][0])

    def finish(values: Column) -> list[Column]:
        scaled = [((fill if math.isnan(v) else v) - center) / scale for v in values]
        if not indicate:
            return [scaled]
        return [scaled, [1.0 if math.isnan(v) else 0.0 for v in values]]

    return finish


def _table_step(step: dict[str, Any], style: str,
                encoders: Sequence[Any]) -> Callable[[Column], list[Column]]:
    op = step["op"]
    if op == "ordinal":
        codes = {k: float(v) for k, v in step["codes"].items()}
        return lambda values: [[codes.get(v, math.nan) for v in values]]
    if op == "onehot":
        codes, missing, width = step["codes"], int(step["missing"]), int(step["width"])

        def one_hot(values: Column) -> list[Column]:
            out = [[0.0] * len(values) for _ in range(width)]
            for row, v in enumerate(values):
                hot = missing if _is_missing(v) else codes.get(v, -1)
                if hot >= 0:
                    out[hot][row] = 1.0
            return out

        return one_hot
    if op == "number":
        return _table_number(step, style)
    if op == "boolean":
        positive, finish = step["positive"], _table_number(step, style)
        return lambda values: finish([math.nan if _is_missing(v) else
                                      float(v == positive or str(v) == positive)
                                      for v in values])
    if op == "target":
        return _target_encoding(encoders[step["encoder"]])
    raise Unsupported(f"TablePreprocessor step {op!r}")


def _target_encoding(encoder: Any) -> Callable[[Column], list[Column]]:
    """scikit-learn's TargetEncoder on one column of levels, as TablePreprocessor feeds it."""
    try:
        from trainforge.data.prepare import _MISSING  # the level a missing category is given
    except ImportError as gone:
        raise Unsupported("target encoding without its missing-level marker") from gone

    index = {str(level): i for i, level in enumerate(encoder.categories_[0])}
    if encoder.target_type_ == "multiclass":
        tables = [[float(x) for x in e] for e in encoder.encodings_]
        means = [float(m) for m in encoder.target_mean_]
    else:
        tables, means = [[float(x) for x in encoder.encodings_[0]]], [float(encoder.target_mean_)]

    def encode(values: Column) -> list[Column]:
        at = [index.get(_MISSING if _is_missing(v) else str(v)) for v in values]
        return [[mean if i is None else table[i] for i in at]
                for table, mean in zip(tables, means, strict=True)]

    return encode


def _table_preprocessor(preprocessor: Any, incoming: Sequence[str]) -> ColumnsFn:
    at = _positions_in(incoming)
    steps = [(at(step["name"]), _table_step(step, preprocessor.style, preprocessor.encoders_))
             for step in preprocessor.plan_]

    def run(columns: list[Column]) -> list[Column]:
        out: list[Column] = []
        for position, step in steps:
            out.extend(step(columns[position]))
        return out

    return run


def compile_preprocessor(preprocessor: Any, feature_names: Sequence[str]) -> ColumnsFn:
    """Compile a member's preprocessor, given columns in the model's feature order."""
    from sklearn.compose import ColumnTransformer

    from trainforge.data.prepare import TablePreprocessor

    if type(preprocessor) is TablePreprocessor:
        return _table_preprocessor(preprocessor, feature_names)
    if type(preprocessor) is ColumnTransformer:
        return _column_transformer(preprocessor, feature_names)
    fitted = [str(n) for n in getattr(preprocessor, "feature_names_in_", [])]
    if fitted != list(feature_names):
        raise Unsupported(f"{type(preprocessor).__name__} over other columns than the features")
    return compile_transformer(preprocessor)


def _table_categories(preprocessor: Any) -> dict[str, list[Any]]:
    known: dict[str, list[Any]] = {}
    for step in preprocessor.plan_:
        if "codes" in step:
            known[step["name"]] = list(step["codes"])
        elif step["op"] == "target":
            levels = preprocessor.encoders_[step["encoder"]].categories_[0]
            known[step["name"]] = [str(v) for v in levels if not str(v).startswith("\x00")]
    return known


def known_categories(preprocessor: Any) -> dict[str, list[Any]]:
    """Categories the preprocessor's encoders learned, by input column name (for probes)."""
    if hasattr(preprocessor, "plan_"):
        return _table_categories(preprocessor)
    known: dict[str, list[Any]] = {}
    names = [str(n) for n in getattr(preprocessor, "feature_names_in_", [])]
    for _, step, selection in getattr(preprocessor, "transformers_", []):
        if isinstance(step, str):
            continue
        steps = [s for _, s in step.steps] if hasattr(step, "steps") else [step]
        encoders = [s for s in steps if hasattr(s, "categories_")]
        if not encoders:
            continue
        positions = _column_positions(selection, names)
        for position, categories in zip(positions, encoders[0].categories_, strict=False):
            known[names[position]] = [c for c in categories if not _is_missing(c)]
    return known
