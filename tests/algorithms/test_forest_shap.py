"""scikit-learn forests' contributions from shap's compiled core alone: the same figures as
shap's TreeExplainer, without importing numba (~150 MB of a training's memory)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import shap
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from tests.algorithms._explained_models import fitted, outputs

from trainforge.algorithms import forest_shap
from trainforge.algorithms.contributions import ModelExplainer
from trainforge.algorithms.forest_shap import forest_contributions


def _rows(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    X[rng.random(X.shape) < 0.1] = np.nan  # the trees learn where missing values go
    signal = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) * np.isnan(X[:, 2])
    if n_classes == 0:
        return X, signal + rng.normal(scale=0.1, size=len(X))
    return X, np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]))


@pytest.mark.parametrize(("estimator", "n_classes"), [
    (RandomForestClassifier(n_estimators=12, random_state=0), 2),
    (RandomForestClassifier(n_estimators=12, max_depth=5, random_state=0), 4),
    (ExtraTreesClassifier(n_estimators=12, random_state=0), 3),
    (RandomForestRegressor(n_estimators=12, random_state=0), 0),
    (ExtraTreesRegressor(n_estimators=12, min_samples_leaf=3, random_state=0), 0),
    (DecisionTreeClassifier(random_state=0), 3),
    (DecisionTreeRegressor(max_depth=8, random_state=0), 0),
], ids=lambda value: type(value).__name__ if not isinstance(value, int) else str(value))
def test_a_forests_contributions_are_shaps_own(estimator, n_classes: int):
    X, y = _rows(n_classes)
    estimator.fit(X[:250], y[:250])
    values, base = forest_contributions(estimator, X[250:])
    explainer = shap.TreeExplainer(estimator)
    expected = np.asarray(explainer.shap_values(X[250:], check_additivity=False))
    expected = expected.transpose(0, 2, 1) if expected.ndim == 3 else expected[:, None, :]
    assert values.shape == expected.shape
    assert np.abs(values - expected).max() < 1e-12
    assert np.abs(base - np.atleast_1d(explainer.expected_value)).max() < 1e-12
    own = estimator.predict_proba(X[250:]) if n_classes else estimator.predict(X[250:])[:, None]
    assert np.abs(base + values.sum(axis=2) - own).max() < 1e-9


def test_explaining_a_forest_imports_neither_shap_nor_numba():
    code = ("import sys, numpy as np\n"
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from trainforge.algorithms.forest_shap import forest_contributions\n"
            "X = np.random.default_rng(0).normal(size=(80, 4)); y = (X[:, 0] > 0).astype(int)\n"
            "values, base = forest_contributions(RandomForestClassifier(5).fit(X, y), X[:3])\n"
            "assert values.shape == (3, 2, 4), values.shape\n"
            "print(sorted(m for m in ('shap', 'numba', 'llvmlite') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_without_shaps_core_a_forest_is_explained_by_shap_itself(monkeypatch):
    model, rows = fitted("wine", "forest")
    monkeypatch.setattr(forest_shap, "core", lambda: None)
    explained = ModelExplainer(model).explain(rows.head(10))
    assert np.abs(explained.explained - outputs(model, rows.head(10))).max() < 1e-6
    with pytest.raises(RuntimeError, match="install shap"):
        forest_contributions(model.members[0].estimator, np.zeros((1, 3)))
