"""What a catalog estimator accepts, checked by scikit-learn's own helpers before any library
sees it: a clear ``ValueError`` (or ``NotFittedError``) instead of a crash inside a booster.

The errors are scikit-learn's, not ``TrainforgeError``s: these are the estimator contract's
errors, which scikit-learn tools (``clone``, ``cross_val_score``, its estimator checks) expect.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

# a matrix of numbers, dense or CSR (the TF-IDF of text columns), float32 kept as it is; NaN is
# a missing value the trees route, but an infinity has no split and is refused
_MATRIX: dict[str, Any] = {"accept_sparse": "csr", "ensure_all_finite": "allow-nan",
                           "dtype": (np.float64, np.float32)}


def training_input(estimator: Any, X: Any, y: Any, *, n_classes: int | None,
                   large_sparse: bool = True, min_rows: int = 1) -> tuple[Any, np.ndarray]:
    """``X`` as a matrix and ``y`` as numbers (``n_classes`` None) or class codes 0..k-1;
    records ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame) on ``estimator``.

    ``large_sparse`` False refuses CSR with 64-bit indices; ``min_rows`` is the fewest rows
    the library learns from.
    """
    X, y = validate_data(estimator, X, y, y_numeric=n_classes is None,
                         accept_large_sparse=large_sparse, ensure_min_samples=min_rows,
                         **_MATRIX)
    return X, _targets(y, n_classes)


def validation_input(estimator: Any, X: Any, y: Any, *, n_classes: int | None,
                     large_sparse: bool = True) -> tuple[Any, np.ndarray]:
    """An ``eval_set`` checked like the training rows, against the columns fit just saw."""
    X = validate_data(estimator, X, reset=False, accept_large_sparse=large_sparse, **_MATRIX)
    return X, _targets(y, n_classes)


def prediction_input(estimator: Any, X: Any, *, large_sparse: bool = True) -> Any:
    """``X`` as a matrix with the columns the fitted ``estimator`` learned from."""
    check_is_fitted(estimator)
    return validate_data(estimator, X, reset=False, accept_large_sparse=large_sparse,
                         **_MATRIX)


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
