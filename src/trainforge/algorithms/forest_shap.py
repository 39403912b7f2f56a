"""Exact path-dependent TreeSHAP for scikit-learn's forests and trees, through shap's compiled
core alone.

``import shap`` imports numba and llvmlite: ~150 MB of a training's memory (measured beside
the boosters and scikit-learn: 280 → 437 MB), paid when a forest in the registered blend is
explained for the report, though a scikit-learn forest's TreeSHAP runs entirely in shap's C
extension (``shap._cext``). This module loads that extension by itself, from its file in
shap's package folder without running the package's ``__init__``, and hands it each tree's
node arrays as shap's ``TreeExplainer`` lays them out (a class's share per node, scaled by the
forest's average). The result is the same to the last bit (``tests/algorithms/
test_forest_shap.py`` compares it with ``TreeExplainer``'s).

The trees go to the core one at a time, adding into one array: TreeSHAP is additive over
trees, and no (trees, most nodes, classes) block padded to the largest tree is built, as
``TreeExplainer`` builds it (a 300-tree multiclass forest: tens of MB).

``core()`` is None when the extension cannot be found or loaded (a shap whose layout changed);
the caller then uses ``shap.TreeExplainer``.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

# shap's codes for the core's arguments (shap.explainers._tree): the path-dependent
# perturbation (the trees' own cover weights, no background) and the identity output
_TREE_PATH_DEPENDENT = 1
_IDENTITY = 0


@functools.cache
def core() -> ModuleType | None:
    """shap's compiled TreeSHAP core, loaded without the rest of shap; None if not found."""
    try:
        spec = importlib.util.find_spec("shap")  # finds the package without importing it
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_cext{suffix}"
            if path.is_file():
                return _load(path)
    return None


def _load(path: Path) -> ModuleType | None:
    spec = importlib.util.spec_from_file_location("shap._cext", path)
    if spec is None or spec.loader is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError:
        return None
    needed = ("dense_tree_shap", "compute_expectations")
    return module if all(hasattr(module, name) for name in needed) else None


def _trees(estimator: Any) -> list[Any]:
    """The fitted ``tree_`` objects of a forest (its estimators') or of one tree."""
    if hasattr(estimator, "estimators_"):
        return [member.tree_ for member in estimator.estimators_]
    return [estimator.tree_]


def _tree_arrays(cext: ModuleType, tree: Any, *, scaling: float,
                 shares: bool) -> tuple[tuple[np.ndarray, ...], int]:
    """One tree's node arrays as the core reads them, each with a leading axis of one tree,
    and its depth. ``shares``: a classifier's node values as class shares."""
    left = tree.children_left.astype(np.int32)
    right = tree.children_right.astype(np.int32)
    # where a missing value goes (scikit-learn >= 1.3 learns it per split)
    missing_left = getattr(tree, "missing_go_to_left", None)
    default = left if missing_left is None else np.where(missing_left, left, right)
    values = tree.value.reshape(tree.value.shape[0], -1).astype(np.float64)
    if shares:
        values = values / values.sum(axis=1, keepdims=True)
    values = np.ascontiguousarray(values * scaling)
    weights = tree.weighted_n_node_samples.astype(np.float64)
    depth = cext.compute_expectations(left, right, weights, values)  # fills inner nodes' values
    features = tree.feature.astype(np.int32)
    thresholds = tree.threshold.astype(np.float64)
    kinds = np.zeros(len(left), dtype=np.int32)  # every split is numeric
    arrays = (left, right, default.astype(np.int32), features, thresholds, kinds, values,
              weights)
    return tuple(array[None] for array in arrays), int(depth)


def forest_contributions(estimator: Any, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contributions (rows, outputs, columns) and base values (rows, outputs) of a fitted
    scikit-learn forest or tree over ``matrix``'s columns, in its own outputs (each class's
    probability, or the value). Raises RuntimeError when shap's core is not available."""
    cext = core()
    if cext is None:
        raise RuntimeError("shap's compiled core (shap._cext) was not found; install shap")
    trees = _trees(estimator)
    shares = hasattr(estimator, "classes_")
    rows = np.asarray(matrix, dtype=np.float32)  # scikit-learn's trees split float32 inputs
    missing = np.isnan(rows)
    n_outputs = int(np.prod(trees[0].value.shape[1:]))
    phi = np.zeros((len(rows), rows.shape[1] + 1, n_outputs))
    offset = np.zeros(n_outputs)
    for tree in trees:
        arrays, depth = _tree_arrays(cext, tree, scaling=1.0 / len(trees), shares=shares)
        cext.dense_tree_shap(*arrays, depth, rows, missing, None, None, None, 1, offset, phi,
                             _TREE_PATH_DEPENDENT, _IDENTITY, False)
    return phi[:, :-1, :].transpose(0, 2, 1).copy(), phi[:, -1, :].copy()
