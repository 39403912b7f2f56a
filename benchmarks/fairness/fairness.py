"""Fairness mitigation: demographic-parity difference before and after each constraint, and
what it costs in accuracy; trainforge's --fairness-constraint beside Fairlearn applied by hand to
a plain LightGBM model.

Data: adult (``examples/adult.csv``, UCI's adult.data, 32,561 rows; sensitive: ``sex``) and
German credit (``examples/credit_g.csv``, UCI's german.data decoded, 1,000 rows; sensitive:
``sex`` from ``personal_status``, and ``age_group``, age bucketed at 25 as is usual for it).

trainforge: ``train(..., algorithm="lightgbm", trials=N, sensitive_features=[S],
fairness_constraint=C)``; its fairness.json holds the unconstrained and the constrained model
on the same test split (stratified 20 %, seed 0), so one run per constraint gives both.

By hand: ``LGBMClassifier()`` (defaults) fitted on a stratified 80 % (seed 0), then Fairlearn's
``ThresholdOptimizer(prefit=True, predict_method="predict_proba", tol=...)`` fitted on the same training
rows (Fairlearn's documented use), predicting the 20 % with ``random_state=0``.

    python benchmarks/fairness/fairness.py            # ~3-6 minutes on 2 busy cores
    python benchmarks/fairness/fairness.py --trials 3 --only credit
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from fairlearn.postprocessing import ThresholdOptimizer
from lightgbm import LGBMClassifier
from sklearn.model_selection import train_test_split

import trainforge as tf
from trainforge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
# (constraint, tolerance): exact parity, parity within 0.05 (--fairness-tolerance), odds
CONSTRAINTS = (("demographic_parity", None), ("demographic_parity", 0.05),
               ("equalized_odds", None))


def adult() -> tuple[pd.DataFrame, str, str]:
    return pd.read_csv(ROOT / "examples/adult.csv"), "income", ">50K"


def credit() -> tuple[pd.DataFrame, str, str]:
    frame = pd.read_csv(ROOT / "examples/credit_g.csv")
    frame["sex"] = np.where(frame["personal_status"].str.startswith("female"), "female", "male")
    frame["age_group"] = np.where(frame["age"] > 25, "over 25", "25 or under")
    return frame, "class", "good"


SETTINGS = [("adult", adult, "sex"), ("credit", credit, "sex"), ("credit", credit, "age_group")]


def by_hand(frame: pd.DataFrame, target: str, positive: str, sensitive: str
            ) -> list[dict[str, object]]:
    """Plain LightGBM, then Fairlearn's ThresholdOptimizer per constraint."""
    X = frame.drop(columns=[target]).copy()
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]):
            X[column] = X[column].astype("category")
    y = (frame[target].astype(str) == positive).astype(int)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0)
    model = LGBMClassifier(verbose=-1, random_state=0).fit(X_train, y_train)
    rows = [_row("by hand: LightGBM", y_test, model.predict(X_test), X_test[sensitive])]
    for constraint, tolerance in CONSTRAINTS:
        optimizer = ThresholdOptimizer(estimator=model, constraints=constraint, prefit=True,
                                       predict_method="predict_proba", tol=tolerance)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer.fit(X_train, y_train, sensitive_features=X_train[sensitive])
            chosen = optimizer.predict(X_test, sensitive_features=X_test[sensitive],
                                       random_state=0)
        rows.append(_row(f"by hand: + {_named(constraint, tolerance)}", y_test, chosen,
                         X_test[sensitive]))
    return rows


def _named(constraint: str, tolerance: float | None) -> str:
    return constraint if tolerance is None else f"{constraint} (tolerance {tolerance})"


def _row(model: str, y_true: pd.Series, y_pred: np.ndarray, groups: pd.Series
         ) -> dict[str, object]:
    return {"model": model, "accuracy": float(np.mean(np.asarray(y_true) == y_pred)),
            "dp_difference": float(demographic_parity_difference(
                y_true, y_pred, sensitive_features=groups)),
            "eo_difference": float(equalized_odds_difference(
                y_true, y_pred, sensitive_features=groups))}


def with_trainforge(frame: pd.DataFrame, target: str, sensitive: str, *, trials: int,
                    scratch: Path) -> list[dict[str, object]]:
    data = scratch / "table.csv"
    frame.to_csv(data, index=False)
    rows: list[dict[str, object]] = []
    for constraint, tolerance in CONSTRAINTS:
        started = time.perf_counter()
        model = tf.train(data, target=target, algorithm="lightgbm", trials=trials, seed=0,
                         sensitive_features=[sensitive], fairness_constraint=constraint,
                         fairness_tolerance=tolerance, name="bench",
                         workspace=Workspace(scratch / _named(constraint, tolerance)))
        seconds = time.perf_counter() - started
        found = json.loads((model.outcome.version.path / "fairness.json").read_text())
        for row in found["comparison"]:
            if row["model"] == "unconstrained" and rows:
                continue  # the same search and split as the first constraint's
            name = "trainforge: LightGBM" if row["model"] == "unconstrained" else \
                f"trainforge: + {_named(constraint, tolerance)}"
            rows.append({"model": name, "accuracy": row["accuracy"],
                         "dp_difference": row["demographic_parity_difference"],
                         "eo_difference": row["equalized_odds_difference"],
                         "train_s": round(seconds, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--only", choices=("adult", "credit"))
    args = parser.parse_args()
    for name, load, sensitive in SETTINGS:
        if args.only and name != args.only:
            continue
        frame, target, positive = load()
        with tempfile.TemporaryDirectory() as scratch:
            rows = [*with_trainforge(frame, target, sensitive, trials=args.trials,
                                     scratch=Path(scratch)),
                    *by_hand(frame, target, positive, sensitive)]
        print(f"\n## {name}, sensitive: {sensitive} ({len(frame):,} rows, test split 20 %)")
        print(_table(rows))


def _table(rows: list[dict[str, object]]) -> str:
    lines = ["| model | accuracy | DP difference | EO difference | DP cut | accuracy cost (pts) | train s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    bases = {"trainforge": rows[0], "by hand": next(r for r in rows
                                                    if str(r["model"]).startswith("by hand"))}
    for row in rows:
        base = bases["trainforge" if str(row["model"]).startswith("trainforge") else "by hand"]
        cut = 1 - float(row["dp_difference"]) / float(base["dp_difference"])  # type: ignore[arg-type]
        cost = (float(base["accuracy"]) - float(row["accuracy"])) * 100  # type: ignore[arg-type]
        lines.append(f"| {row['model']} | {float(row['accuracy']):.4f} | "  # type: ignore[arg-type]
                     f"{float(row['dp_difference']):.4f} | {float(row['eo_difference']):.4f} | "  # type: ignore[arg-type]
                     f"{cut:.0%} | {cost:+.2f} | {row.get('train_s', '')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
