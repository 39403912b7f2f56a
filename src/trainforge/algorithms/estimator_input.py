"""What a catalog estimator accepts, checked by scikit-learn's own helpers before any library
sees it: a clear ``ValueError`` (or ``NotFittedError``) instead of a crash inside a booster.

The errors are scikit-learn's, not ``TrainforgeError``s: these are the estimator contract's
errors, which scikit-learn tools (``clone``, ``cross_val_score``, its estimator checks) expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

NOT_FITTED = "this %(name)s is not fitted; call `.fit()` first"  # for NotFittedError


@dataclass(frozen=True)
class Accepts:
    """The matrices an estimator learns from and predicts on: always numbers (float32 kept as
    it is, anything else as float64), never an infinity.

    Args:
        nan: NaN is a missing value the estimator handles itself (trees route it).
        sparse: CSR matrices (the TF-IDF of text columns) are taken.
        large_sparse: CSR matrices with 64-bit indices are taken too.
        min_rows: the fewest rows it learns from.
    """

    nan: bool = True
    sparse: bool = True
    large_sparse: bool = True
    min_rows: int = 1

    def options(self) -> dict[str, Any]:
        return {"accept_sparse": "csr" if self.sparse else False,
                "accept_large_sparse": self.large_sparse,
                "ensure_all_finite": "allow-nan" if self.nan else True,
                "dtype": (np.float64, np.float32)}


def training_input(estimator: Any, X: Any, y: Any, *, n_classes: int | None,
                   accepts: Accepts) -> tuple[Any, np.ndarray]:
    """``X`` as a matrix and ``y`` as numbers (``n_classes`` None) or class codes 0..k-1;
    records ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame) on ``estimator``."""
    X, y = validate_data(estimator, X, y, y_numeric=n_classes is None,
                         ensure_min_samples=accepts.min_rows, **accepts.options())
    return X, _targets(y, n_classes)


def unlabeled_input(estimator: Any, X: Any, *, accepts: Accepts) -> Any:
    """``X`` as a matrix for an estimator that learns without targets (segments, anomalies);
    records ``n_features_in_`` like ``training_input``."""
    return validate_data(estimator, X, ensure_min_samples=accepts.min_rows,
                         **accepts.options())


def validation_input(estimator: Any, X: Any, y: Any, *, n_classes: int | None,
                     accepts: Accepts) -> tuple[Any, np.ndarray]:
    """An ``eval_set`` checked like the training rows, against the columns fit just saw."""
    X = validate_data(estimator, X, reset=False, **accepts.options())
    return X, _targets(y, n_classes)


def prediction_input(estimator: Any, X: Any, *, accepts: Accepts) -> Any:
    """``X`` as a matrix with the columns the fitted ``estimator`` learned from."""
    if _ready(estimator, X, nan=accepts.nan):
        return X
    check_is_fitted(estimator, msg=NOT_FITTED)
    return validate_data(estimator, X, reset=False, **accepts.options())


def _ready(estimator: Any, X: Any, *, nan: bool) -> bool:
    """Whether ``X`` is what ``validate_data`` would return unchanged: a float matrix of the
    fitted width with rows and no infinity, from an estimator fitted without column names.
    The model's own preprocessor gives exactly that, and ``validate_data`` costs ~0.4 ms a call
    (it asks narwhals whether ``X`` is a dataframe): more than a one-row booster predict."""
    # n_features_in_ comes with the fitted state (fit, load_native): its absence sends an
    # unfitted estimator on to check_is_fitted, and spares the fitted one that ~20 µs scan
    if not (type(X) is np.ndarray and X.dtype in (np.float64, np.float32) and X.ndim == 2
            and X.shape[0] > 0 and X.shape[1] == getattr(estimator, "n_features_in_", -1)
            and not hasattr(estimator, "feature_names_in_")):
        return False
    return not bool(np.isinf(X).any()) if nan else bool(np.isfinite(X).all())


def _targets(y: Any, n_classes: int | None) -> np.ndarray:
    if n_classes is None:
        return np.asarray(y, dtype=np.float64)
    return class_codes(y, n_classes=n_classes)


def class_codes(y: Any, *, n_classes: int) -> np.ndarray:
    """``y`` as int64 class codes, refusing anything else: a catalog classifier learns the
    task's codes 0..k-1 (``Task.classes`` holds the labels), so its output always has k
    columns, even when a fold misses a class.

    Raises:
        ValueError: ``y`` is continuous ("Unknown label type"), has more classes than a binary
            model takes, or holds labels other than the codes 0..n_classes-1.
    """
    check_classification_targets(y)
    if n_classes == 2 and type_of_target(y) == "multiclass":
        raise ValueError("Only binary classification is supported by a model built for a "
                         "binary task; build it for the multiclass task instead")
    values = np.asarray(y)
    codes = values.astype(np.int64) if values.dtype.kind in "biuf" else None
    if codes is None or not np.array_equal(codes, values) or not (
            codes.min(initial=0) >= 0 and codes.max(initial=0) < n_classes):
        raise ValueError(f"y must hold the class codes 0..{n_classes - 1} of the task "
                         f"(encode the labels first: Task.classes lists them in code order); "
                         f"it holds {len(np.unique(values))} distinct labels, not all of them "
                         "such codes")
    return codes
