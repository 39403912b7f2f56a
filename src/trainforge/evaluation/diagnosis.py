"""Overfitting diagnosis: the train, validation and test scores compared, in plain words.

Gaps are measured on the metric's own scale: as a share of the room between a trivial
baseline and a perfect score when both are known (AUC 0.5 → 1.0, R² 0 → 1), else of the
distance to the perfect score (accuracy, errors), else of the scores' size.

    >>> diagnose(metric="roc_auc", train_score=0.99, validation_score=0.81, test_score=0.80,
    ...          baseline_score=0.5).verdict
    'overfitting'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from trainforge.data.metrics import METRICS

GOOD_FIT = "good fit"
OVERFITTING = "overfitting"
UNDERFITTING = "underfitting"
VALIDATION_OPTIMISTIC = "validation optimistic"
NOT_JUDGED = "not judged"

# share of the metric's scale: a train→validation gap past this is overfitting; half of it is mild
OVERFIT_GAP = 0.10
# share of the scale by which test may trail validation before selection is suspected
OPTIMISM_GAP = 0.05
# a model that gains less than this share of the room above the baseline learned almost nothing
UNDERFIT_GAIN = 0.10


@dataclass(frozen=True)
class Diagnosis:
    """``verdict`` is the main finding; ``findings`` are all of them, as sentences;
    ``advice`` says what to try. Gaps are signed so that positive means the first is better."""

    metric: str
    verdict: str
    findings: list[str]
    advice: list[str]
    train_score: float
    validation_score: float
    test_score: float
    baseline_score: float | None = None
    higher_is_better: bool = True
    scale: float = 1.0
    gaps: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "verdict": self.verdict, "findings": list(self.findings),
                "advice": list(self.advice), "train_score": self.train_score,
                "validation_score": self.validation_score, "test_score": self.test_score,
                "baseline_score": self.baseline_score, "higher_is_better": self.higher_is_better,
                "scale": self.scale, "gaps": dict(self.gaps)}

    def __str__(self) -> str:
        lines = [f"Diagnosis ({self.metric}): {self.verdict}",
                 f"  train {self.train_score:.4f} · validation {self.validation_score:.4f} · "
                 f"test {self.test_score:.4f}"
                 + (f" · baseline {self.baseline_score:.4f}"
                    if self.baseline_score is not None else "")]
        lines += [f"  {finding}" for finding in self.findings]
        lines += [f"  try: {tip}" for tip in self.advice]
        return "\n".join(lines)


def _scale(metric: str, scores: list[float], *, baseline: float | None) -> float:
    """The size of one 'whole' of the metric: gaps are read as shares of it."""
    known = METRICS.get(metric)
    if known is not None and baseline is not None and known.perfect != baseline:
        return abs(known.perfect - baseline)  # the room above a trivial model
    if known is not None and known.perfect == 1.0:
        return 1.0  # scores bounded by 1 (accuracy, F1, R²): a gap of 0.1 is 10 %
    if known is not None and known.perfect == 0.0:
        return max(scores) or 1.0  # errors: relative to the largest one
    return max(abs(s) for s in [*scores, baseline or 0.0]) or 1.0


def _better_by(a: float, b: float, higher_is_better: bool) -> float:
    return a - b if higher_is_better else b - a


def _format(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


# one finding: its verdict, the sentences that explain it, what to try
Finding = tuple[str, list[str], list[str]]


def _overfitting(metric: str, gap: float, share: float) -> Finding | None:
    if share < OVERFIT_GAP:
        return None
    size = "much " if share >= 2 * OVERFIT_GAP else ""
    finding = (f"The model scores {size}better on its training rows than on validation rows "
               f"({metric} {_format(gap)} better, {share:.0%} of the metric's scale): it has "
               "memorised part of the training data.")
    advice = ["more regularisation (shallower trees, fewer leaves, a stronger penalty)",
              "more training data",
              "simpler models (linear, shallow trees) or a smaller ensemble",
              "a longer time budget is NOT the cure: more search fits the same rows harder"]
    return OVERFITTING, [finding], advice


def _noise_share(n_test_rows: int | None) -> float:
    """The share of the scale by which test may trail validation before it is 'clearly' worse:
    two standard errors of a score measured on ``n_test_rows`` rows (about 1/sqrt(n) each)."""
    if not n_test_rows:
        return OPTIMISM_GAP
    return max(OPTIMISM_GAP, 2.0 / math.sqrt(n_test_rows))


def _optimism(metric: str, gap: float, share: float, *, n_test_rows: int | None
              ) -> Finding | None:
    if share < _noise_share(n_test_rows):
        return None
    beyond = (f", beyond the noise of {n_test_rows:,} test rows" if n_test_rows else "")
    finding = (f"The test score is clearly worse than the validation score ({metric} "
               f"{_format(gap)} worse, {share:.0%} of the metric's scale{beyond}): model selection "
               "overfit the validation rows, so the validation score is optimistic; trust the "
               "test score.")
    advice = ["more data (a larger validation split)",
              "cross-validation instead of a single validation split",
              "fewer trials: every trial is another look at the same validation rows"]
    return VALIDATION_OPTIMISTIC, [finding], advice


def _underfitting(metric: str, baseline: float, best: float, share: float) -> Finding | None:
    if share >= UNDERFIT_GAIN:
        return None
    finding = (f"Even on its training rows the model barely beats a trivial baseline "
               f"({metric} {_format(best)} vs {_format(baseline)} for always predicting the "
               f"commonest class or the mean; {max(share, 0.0):.0%} of the possible gain): it "
               "has not found a pattern.")
    advice = ["more informative features: join more columns about each row",
              "more flexible models or a longer time budget",
              "check that the target is the column you meant (--target) and its labels are right"]
    return UNDERFITTING, [finding], advice


def _good_fit(train_vs_val: float, val_vs_test: float, scale: float,
              *, n_test_rows: int | None) -> Finding:
    largest = max(train_vs_val, val_vs_test, 0.0) / scale
    agree = (f"Train, validation and test scores agree (the largest drop is {largest:.0%} of "
             "the metric's scale): the model generalises as well as it fits.")
    findings = [agree]
    if train_vs_val / scale >= OVERFIT_GAP / 2:
        findings.append("Training rows score a little better than validation rows; mild, and "
                        "usual.")
    if n_test_rows and val_vs_test / scale >= OPTIMISM_GAP:
        findings.append(f"Test trails validation by {_format(val_vs_test)}, within the noise of "
                        f"a score on {n_test_rows:,} test rows.")
    return GOOD_FIT, findings, []


def diagnose(*, metric: str, train_score: float, validation_score: float, test_score: float,
             higher_is_better: bool = True, baseline_score: float | None = None,
             n_test_rows: int | None = None) -> Diagnosis:
    """Compare train, validation and test scores of one model and say, in plain words, whether
    it fits well, overfits, underfits, or was selected on optimistic validation scores.

    ``baseline_score`` is a trivial model's score on the same rows (class shares or the mean,
    see ``metrics.baseline_score``); without it, underfitting is judged only for metrics whose
    chance level is fixed (ROC-AUC 0.5, R² 0). ``n_test_rows`` widens the margin by which
    test may trail validation on a small test split, where scores are noisy.
    """
    scores = [train_score, validation_score, test_score]
    known = METRICS.get(metric)
    if baseline_score is None and known is not None:
        baseline_score = known.chance
    if any(math.isnan(s) for s in scores):
        missing = "A score is missing (NaN), so the fit cannot be judged."
        return Diagnosis(metric, NOT_JUDGED, [missing], [], train_score, validation_score,
                         test_score, baseline_score, higher_is_better)
    scale = _scale(metric, scores, baseline=baseline_score)
    gaps = {"train_vs_validation": _better_by(train_score, validation_score, higher_is_better),
            "validation_vs_test": _better_by(validation_score, test_score, higher_is_better)}
    found: list[Finding | None] = []
    if baseline_score is not None:
        best = max(scores) if higher_is_better else min(scores)
        gaps["best_vs_baseline"] = _better_by(best, baseline_score, higher_is_better)
        found.append(_underfitting(metric, baseline_score, best,
                                   gaps["best_vs_baseline"] / scale))
    if not any(found):  # near the baseline, gaps between splits are noise
        found += [_overfitting(metric, gaps["train_vs_validation"],
                               gaps["train_vs_validation"] / scale),
                  _optimism(metric, gaps["validation_vs_test"], gaps["validation_vs_test"] / scale,
                            n_test_rows=n_test_rows)]
    kept = [f for f in found if f is not None] or [
        _good_fit(gaps["train_vs_validation"], gaps["validation_vs_test"], scale,
                  n_test_rows=n_test_rows)]
    advice = list(dict.fromkeys(tip for _, _, tips in kept for tip in tips))
    return Diagnosis(metric=metric, verdict=kept[0][0],
                     findings=[line for _, lines, _ in kept for line in lines], advice=advice,
                     train_score=train_score, validation_score=validation_score,
                     test_score=test_score, baseline_score=baseline_score,
                     higher_is_better=higher_is_better, scale=scale, gaps=gaps)
