"""The training job's fairness steps (--sensitive-features, --fairness-constraint): check the
columns before any search, then assess on the test split and, with a constraint, fit the
per-group thresholds on the out-of-fold predictions and compare the two models.

What comes out is ``fairness.json`` of the package (``evaluation.fairness.assess``'s record,
with ``comparison``: score and disparity of the unconstrained and constrained models side by
side, and ``unconstrained``: the groups before the constraint), the run's metrics
(``fairness_demographic_parity_difference``, …) and the report's section.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trainforge.config import TrainConfig
from trainforge.data.task import Task, TaskKind
from trainforge.errors import (
    ColumnNotFound,
    FairnessConstraintNotApplicable,
    SensitiveFeatureUnusable,
)

if TYPE_CHECKING:
    import pandas as pd

    from trainforge.algorithms.group_thresholds import GroupThresholds
    from trainforge.algorithms.model import TabularModel
    from trainforge.data.dataset import Schema
    from trainforge.evaluation.evaluate import Evaluation
    from trainforge.training.automl import SearchResult

MAX_GROUPS = 50  # per column: more is a number or an id, to bucket first (age into decades)
FLAG = "--sensitive-features"


def check_sensitive(config: TrainConfig, frame: pd.DataFrame, *, task: Task, source: str,
                    features: list[str]) -> list[str]:
    """The features to learn from, once each sensitive column is known to be usable; before
    minutes are spent searching. Raises ColumnNotFound (with the close names),
    SensitiveFeatureUnusable or FairnessConstraintNotApplicable."""
    from trainforge.algorithms.group_thresholds import group_keys

    if config.fairness_constraint is not None and task.kind is not TaskKind.BINARY:
        raise FairnessConstraintNotApplicable(config.fairness_constraint, task.kind.value)
    columns = list(frame.columns)
    for name in config.sensitive_features:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
            raise ColumnNotFound(name, source, close or columns, FLAG)
        if name == task.target:
            raise SensitiveFeatureUnusable(name, source, "is the target", "name the columns "
                                           "that describe a person (sex, age), not the label")
        groups = sorted(set(group_keys({name: frame[name].tolist()}, [name])))
        if len(groups) < 2:
            raise SensitiveFeatureUnusable(
                name, source, f"has one group ({groups[0] if groups else 'none'!r}) in its "
                f"{len(frame):,} labelled rows: there is nothing to compare",
                "choose a column whose values differ")
        if len(groups) > MAX_GROUPS:
            raise SensitiveFeatureUnusable(
                name, source, f"has {len(groups):,} groups (more than {MAX_GROUPS})",
                "bucket it first (age into decades) or choose a column of categories")
    if config.sensitive_as_features:
        return features
    return [name for name in features if name not in config.sensitive_features]


@dataclass
class FairnessOutcome:
    """What the fairness steps found: the package's record and the thresholds, if any."""

    record: dict[str, Any]
    thresholds: GroupThresholds | None


def fairness_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The run's metrics from a fairness record: each disparity of the registered model (and,
    with a constraint, the constrained model's test accuracy)."""
    found = {f"fairness_{key}": float(value["value"]) for key, value in record["summary"].items()
             if value.get("value") is not None}
    for row in record.get("comparison", []):
        if row["model"] == "constrained" and row["accuracy"] is not None:
            found["fairness_constrained_accuracy"] = float(row["accuracy"])
    return found


def assess_and_mitigate(config: TrainConfig, *, task: Task, evaluation: Evaluation,
                        result: SearchResult, searched: pd.DataFrame,
                        test_frame: pd.DataFrame) -> FairnessOutcome:
    """Assess the evaluated model on the test split; with a constraint, fit the thresholds on
    the out-of-fold predictions of ``searched`` (the rows the search saw) and assess again."""
    from trainforge.evaluation.fairness import assess
    from trainforge.evaluation.truth import truth_of

    columns = list(config.sensitive_features)
    # the evaluation's rows: those of the test split with a usable target
    sensitive = test_frame.loc[truth_of(test_frame, task).kept, columns].reset_index(drop=True)
    before = assess(evaluation.y_true, evaluation.predictions, sensitive=sensitive, task=task,
                    seed=config.seed)
    if config.fairness_constraint is None:
        return FairnessOutcome(record=before, thresholds=None)
    if result.validation_predictions is None or result.validation_rows is None:
        before["notes"].append(f"--fairness-constraint {config.fairness_constraint} was not "
                               "applied: the search kept no out-of-fold predictions to fit it "
                               "on (give it more time or trials)")
        return FairnessOutcome(record=before, thresholds=None)
    thresholds = _fit(config, task=task, result=result, searched=searched)
    assert evaluation.proba is not None  # a binary classifier's evaluation has them
    chosen = thresholds.decide(evaluation.proba[:, 1], thresholds.keys_of(
        {name: sensitive[name].tolist() for name in columns})).astype(int)
    after = assess(evaluation.y_true, chosen, sensitive=sensitive, task=task,
                   seed=config.seed, constraint=config.fairness_constraint)
    after["tolerance"] = config.fairness_tolerance
    after["comparison"] = [_row("unconstrained", evaluation.y_true, evaluation.predictions,
                                before),
                           _row("constrained", evaluation.y_true, chosen, after)]
    after["unconstrained"] = {"groups": before["groups"], "summary": before["summary"]}
    after["notes"].append(
        f"{config.fairness_constraint}: per-group thresholds (Fairlearn's ThresholdOptimizer) "
        f"fitted on the {len(result.validation_rows):,} out-of-fold predictions of the training "
        "rows; the figures are on the test split. Predictions need the sensitive columns: "
        f"{', '.join(columns)}")
    return FairnessOutcome(record=after, thresholds=thresholds)


def _fit(config: TrainConfig, *, task: Task, result: SearchResult,
         searched: pd.DataFrame) -> GroupThresholds:
    from trainforge.algorithms.group_thresholds import group_keys
    from trainforge.evaluation.mitigation import fit_thresholds
    from trainforge.evaluation.truth import truth_of

    assert result.validation_predictions is not None and result.validation_rows is not None
    rows = searched.iloc[result.validation_rows]
    truth = np.asarray(truth_of(rows, task).values)  # the searched rows' targets are clean
    columns = list(config.sensitive_features)
    keys = group_keys({name: rows[name].tolist() for name in columns}, columns)
    return fit_thresholds(np.asarray(result.validation_predictions)[:, 1],
                          (truth == 1).astype(int), keys,
                          constraint=str(config.fairness_constraint), columns=columns,
                          positive_class=task.classes[1], tolerance=config.fairness_tolerance)


def _row(model: str, y_true: np.ndarray, y_pred: np.ndarray,
         record: dict[str, Any]) -> dict[str, Any]:
    """One line of the trade-off table: the score and the disparities, side by side."""
    summary = record["summary"]
    return {"model": model, "accuracy": float(np.mean(y_true == y_pred)),
            **{key: summary[key]["value"] for key in (
                "demographic_parity_difference", "equalized_odds_difference")}}


def constrain(model: TabularModel, outcome: FairnessOutcome, *, schema: Schema) -> None:
    """Give the registered model the thresholds, and the sensitive columns it does not learn
    from as inputs it must be sent."""
    from trainforge.algorithms.model import feature_specs

    if outcome.thresholds is None:
        return
    learned = {spec.name for spec in model.features}
    model.thresholds = outcome.thresholds
    model.decided_by = feature_specs(schema, [name for name in outcome.thresholds.columns
                                              if name not in learned])
