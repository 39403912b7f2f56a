"""What a search tries first (strong, cheap defaults) and how Optuna samples after that."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trainforge.algorithms.catalog import Algorithm
from trainforge.training.trial import CandidateSpec

# in the order they are tried: cheap and usually strong first; every entry is one trial
_PORTFOLIO: list[tuple[str, dict[str, Any]]] = [
    ("lightgbm", {}),
    ("linear", {}),
    ("catboost", {}),
    ("xgboost", {}),
    ("extra_trees", {}),
    ("lightgbm", {"learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 10,
                  "feature_fraction": 0.6, "bagging_fraction": 0.8, "lambda_l2": 1.0}),
    ("knn", {}),
    ("random_forest", {}),
    ("mlp", {}),
    ("lightgbm", {"learning_rate": 0.05, "num_leaves": 96, "min_child_samples": 5,
                  "feature_fraction": 0.8, "lambda_l2": 0.1}),
    ("catboost", {"depth": 8, "l2_leaf_reg": 5.0, "learning_rate": 0.06}),
    ("extra_trees", {"max_features": 0.6, "min_samples_leaf": 2}),
    ("lightgbm", {"learning_rate": 0.05, "num_leaves": 8, "min_child_samples": 30,
                  "feature_fraction": 0.5, "extra_trees": True, "lambda_l1": 0.1}),
]
# free text: the fast TF-IDF baseline, then the networks, cheapest first; then the rest
_TEXT_FIRST = ["linear", "minilm", "lightgbm", "gru", "minilm_tuned", "text_transformer"]
# tried only when the user names them: weaker than the ensembles above (online_linear is the
# linear model that `trainforge update` can continue: chosen for that, not for its score)
EXPLICIT_ONLY = frozenset({"decision_tree", "online_linear"})


# on a large table these cost far more than boosting (forests keep every row in deep trees;
# neighbours and MLPs scale with rows × rows or epochs): they go after the boosted variants
LARGE_TABLE_ROWS = 12_000
_SLOW_ON_LARGE = frozenset({"extra_trees", "random_forest", "knn", "mlp"})


def default_candidates(pool: Sequence[Algorithm], *, n_rows: int,
                       modality: str = "table") -> list[CandidateSpec]:
    """The portfolio's entries for the algorithms in ``pool``, in the order to try them; an
    algorithm in the pool but not in the portfolio gets one entry with its defaults."""
    names = {a.name for a in pool}
    chosen = [CandidateSpec(name, dict(params)) for name, params in _PORTFOLIO if name in names]
    listed = {name for name, _ in _PORTFOLIO}
    chosen += [CandidateSpec(a.name, {}) for a in pool if a.name not in listed]
    if modality == "text":
        first = [CandidateSpec(name, {}) for name in _TEXT_FIRST if name in names]
        chosen = first + [c for c in chosen if c not in first]
    if n_rows > LARGE_TABLE_ROWS:
        chosen.sort(key=lambda spec: spec.algorithm in _SLOW_ON_LARGE)  # stable: order kept
    return chosen


class Namespaced:
    """An Optuna trial seen through one algorithm's eyes: its parameter names get the
    algorithm's prefix, so two algorithms' ``learning_rate`` never share a distribution."""

    def __init__(self, trial: Any, prefix: str) -> None:
        self.trial, self.prefix = trial, prefix

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False,
                      step: float | None = None) -> float:
        return float(self.trial.suggest_float(f"{self.prefix}.{name}", low, high, log=log,
                                              step=step))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return int(self.trial.suggest_int(f"{self.prefix}.{name}", low, high, step=step,
                                          log=log))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.trial.suggest_categorical(f"{self.prefix}.{name}", list(choices))
