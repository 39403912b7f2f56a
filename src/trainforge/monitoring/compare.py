"""Champion against challenger: the deployed version and its shadow, side by side.

On the same requests (the rows both versions answered: same request id and row) the share of
predictions they agree on (a regressor: how far apart its numbers are). On the labelled
feedback, each version's metric (the one its task optimises) and a paired bootstrap of the
difference: the labelled rows resampled with replacement ``n_resamples`` times (seeded, so a
comparison repeats exactly), each resample scoring both versions on the same rows. The 95%
interval of the difference and a two-sided p-value come from those resamples; the verdict says
the challenger is better only when the whole interval is above zero.

The shadow's answers are logged apart from the champion's (``shadow_log_root``): the
deployment's own log holds only what was answered, so feedback, drift and retraining read
exactly what its callers received.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainforge.data.metrics import get_metric
from trainforge.data.task import Task
from trainforge.data.task_kind import TaskKind
from trainforge.errors import ConfigError, DeploymentNotFound
from trainforge.monitoring.performance import _truth_and_output
from trainforge.monitoring.prediction_log import OUTPUT_PREFIX, read_predictions
from trainforge.registry.registry import Registry
from trainforge.store import deployments as records
from trainforge.store import feedback as labels_store
from trainforge.store.handle import StoreHandle

N_RESAMPLES = 1_000
MIN_LABELS = 100  # fewer labelled rows make the bootstrap's interval too wide to act on
PREDICTION = OUTPUT_PREFIX + "prediction"

__all__ = ["Comparison", "PromotionRule", "compare_deployment", "compare_rows",
           "shadow_log_root"]


def shadow_log_root(log_root: Path) -> Path:
    """Where the shadows' answers are logged: beside the prediction log, in its layout."""
    return log_root.parent / "shadow-predictions"


@dataclass(frozen=True)
class PromotionRule:
    """When a deployment's shadow is promoted by itself: it is better than the champion by
    at least ``min_margin`` (in the metric's own units) on at least ``min_labels`` labelled
    requests, and the bootstrap's 95% interval of the difference lies above zero."""

    min_margin: float = 0.0
    min_labels: int = MIN_LABELS

    def __post_init__(self) -> None:
        if not (self.min_margin >= 0.0 and np.isfinite(self.min_margin)):
            raise ConfigError(f"promotion min_margin {self.min_margin} must be a finite "
                              "number >= 0")
        if self.min_labels < 1:
            raise ConfigError(f"promotion min_labels {self.min_labels} must be at least 1")

    def holds(self, comparison: Comparison) -> bool:
        return (comparison.n_labels >= self.min_labels and comparison.difference is not None
                and comparison.ci_low is not None and comparison.ci_low > 0.0
                and comparison.difference >= self.min_margin)

    def to_dict(self) -> dict[str, Any]:
        return {"min_margin": self.min_margin, "min_labels": self.min_labels}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PromotionRule:
        return cls(min_margin=float(raw.get("min_margin", 0.0)),
                   min_labels=int(raw.get("min_labels", MIN_LABELS)))


@dataclass(frozen=True)
class Comparison:
    """Champion and challenger on the same requests and on the labelled ones. ``difference``,
    ``ci_low`` and ``ci_high`` are oriented so that above zero means the challenger is better
    (for an error metric too)."""

    deployment: str
    champion: str  # NAME:VERSION
    challenger: str | None
    n_requests: int  # rows both versions answered
    agreement: float | None  # share of those with the same prediction (not for a regressor)
    mean_abs_difference: float | None  # a regressor's: mean |challenger - champion|
    metric: str | None
    n_labels: int  # labelled rows both versions answered
    min_labels: int
    champion_score: float | None
    challenger_score: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _versions(rows: pd.DataFrame, model: str, version: int) -> pd.DataFrame:
    mine = rows[(rows["model"] == model) & (rows["version"].astype("int64") == version)]
    return mine.drop_duplicates(["request_id", "row"]).set_index(["request_id", "row"])


def _scores(truth: np.ndarray, outputs: tuple[np.ndarray, np.ndarray], *, metric: str,
            kind: TaskKind, n_resamples: int, seed: int) -> tuple[float, float, np.ndarray]:
    """Both versions' metric on all rows, and the challenger's lead on each resample."""
    chosen = get_metric(metric, kind)
    sign = 1.0 if chosen.higher_is_better else -1.0
    champion, challenger = outputs
    rng = np.random.default_rng(seed)
    leads = np.empty(n_resamples)
    for i in range(n_resamples):
        picked = rng.integers(0, len(truth), len(truth))
        leads[i] = sign * (chosen.compute_fast(truth[picked], challenger[picked])
                           - chosen.compute_fast(truth[picked], champion[picked]))
    return (chosen.compute(truth, champion), chosen.compute(truth, challenger),
            leads[np.isfinite(leads)])


def compare_rows(champion: pd.DataFrame, challenger: pd.DataFrame, labels: pd.DataFrame, *,
                 task: Task, refs: tuple[str, str], deployment: str,
                 min_labels: int = MIN_LABELS, n_resamples: int = N_RESAMPLES,
                 seed: int = 0) -> Comparison:
    """Compare the logged rows of ``champion`` and ``challenger`` (``read_predictions``
    frames of one version each) on the requests both answered, and on those of them with a
    label in ``labels`` (``request_id``, ``row``, ``label``)."""
    left = champion.drop_duplicates(["request_id", "row"])
    right = challenger.drop_duplicates(["request_id", "row"])
    paired = left.merge(right, on=["request_id", "row"], suffixes=("", ".challenger"))
    agreement = difference = None
    if len(paired) and task.kind is TaskKind.REGRESSION:
        gap = (pd.to_numeric(paired[PREDICTION + ".challenger"], errors="coerce")
               - pd.to_numeric(paired[PREDICTION], errors="coerce")).abs()
        difference = float(gap.mean())
    elif len(paired):
        agreement = float((paired[PREDICTION].astype(str)
                           == paired[PREDICTION + ".challenger"].astype(str)).mean())
    labelled = paired.merge(labels, on=["request_id", "row"]) if len(labels) else paired.iloc[:0]
    unscored = Comparison(
        deployment=deployment, champion=refs[0], challenger=refs[1], n_requests=len(paired),
        agreement=agreement, mean_abs_difference=difference, metric=task.metric,
        n_labels=len(labelled), min_labels=min_labels, champion_score=None,
        challenger_score=None, difference=None, ci_low=None, ci_high=None, p_value=None,
        verdict=f"not enough labels: {len(labelled)} < {min_labels}")
    if len(labelled) < min_labels:
        return unscored
    truth, champion_out = _truth_and_output(labelled, task)
    suffixed = [c for c in labelled if c.startswith(OUTPUT_PREFIX) and c.endswith(".challenger")]
    theirs = labelled[["label", *suffixed]].rename(
        columns={c: c.removesuffix(".challenger") for c in suffixed})
    _, challenger_out = _truth_and_output(theirs, task)
    champion_score, challenger_score, leads = _scores(
        truth, (champion_out, challenger_out), metric=task.metric, kind=task.kind,
        n_resamples=n_resamples, seed=seed)
    sign = 1.0 if get_metric(task.metric, task.kind).higher_is_better else -1.0
    lead = sign * (challenger_score - champion_score)
    low, high = (np.percentile(leads, [2.5, 97.5]) if len(leads) else (np.nan, np.nan))
    p_value = (min(1.0, 2.0 * float(min(np.mean(leads <= 0), np.mean(leads >= 0))))
               if len(leads) else float("nan"))
    return replace(unscored, champion_score=float(champion_score),
                   challenger_score=float(challenger_score), difference=float(lead),
                   ci_low=float(low), ci_high=float(high), p_value=float(p_value),
                   verdict=_verdict(lead, low, high, metric=task.metric))


def _verdict(lead: float, low: float, high: float, *, metric: str) -> str:
    interval = f"{metric}, 95% CI [{low:.4f}, {high:.4f}]"
    if low > 0:
        return f"challenger better by {lead:.4f} {interval}"
    if high < 0:
        return f"champion better by {-lead:.4f} {interval}"
    return f"no significant difference ({lead:+.4f} {interval}); keep the champion"


def _task(registry: Registry, ref: str) -> Task:
    task = registry.show(ref).get("task", {})
    kind = TaskKind(task["kind"])
    if not kind.is_supervised:
        raise ConfigError(f"{ref} is a {kind.value} model: champion and challenger are "
                          "compared on a metric against labels, which it has none of")
    return Task(target=str(task.get("target")), kind=kind, metric=str(task["metric"]),
                classes=tuple(task.get("classes", ())))


def compare_deployment(name: str, *, store: StoreHandle, registry: Registry, log_root: Path,
                       min_labels: int | None = None, n_resamples: int = N_RESAMPLES,
                       seed: int = 0) -> Comparison:
    """Compare deployment ``name``'s champion with its shadow, from their logs and the
    deployment's feedback. ``min_labels``: the deployment's promotion rule's when not given
    (``MIN_LABELS`` without one). DeploymentNotFound when nothing is deployed under it."""
    record = records.get_deployment(store, name)
    if record is None:
        raise DeploymentNotFound(name, [r["name"] for r in records.list_deployments(store)])
    rule = (PromotionRule.from_dict(record["promotion_rule"])
            if record["promotion_rule"] else PromotionRule())
    needed = rule.min_labels if min_labels is None else min_labels
    champion = f"{record['model_name']}:{record['model_version']}"
    if record["shadow_model"] is None or record["shadow_version"] is None:
        return Comparison(deployment=name, champion=champion, challenger=None, n_requests=0,
                          agreement=None, mean_abs_difference=None, metric=None, n_labels=0,
                          min_labels=needed, champion_score=None, challenger_score=None,
                          difference=None, ci_low=None, ci_high=None, p_value=None,
                          verdict="no challenger: deploy one in shadow first "
                                  f"(trainforge deployments shadow {name} REF)")
    shadow_model, shadow_version = record["shadow_model"], record["shadow_version"]
    ours = _versions(read_predictions(log_root, name), record["model_name"],
                     record["model_version"]).reset_index()
    theirs = _versions(read_predictions(shadow_log_root(log_root), name), shadow_model,
                       shadow_version).reset_index()
    current = labels_store.list_labels(store, name)
    labels = pd.DataFrame({"request_id": [r["request_id"] for r in current],
                           "row": [int(r["row"]) for r in current],
                           "label": [r["label"] for r in current]})
    for frame in (ours, theirs, labels):
        if len(frame):
            frame["row"] = frame["row"].astype("int64")
    return compare_rows(ours, theirs, labels, task=_task(registry, champion),
                        refs=(champion, f"{shadow_model}:{shadow_version}"), deployment=name,
                        min_labels=needed, n_resamples=n_resamples, seed=seed)
