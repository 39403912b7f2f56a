"""Evaluation: metrics on held-out rows, the overfitting diagnosis, permutation importance and
the HTML report. Plots import matplotlib only when a report is written."""

from __future__ import annotations

from trainforge.evaluation.diagnosis import Diagnosis, diagnose
from trainforge.evaluation.evaluate import Evaluation, evaluate, evaluate_predictions
from trainforge.evaluation.importance import permutation_importance
from trainforge.evaluation.report import model_info, write_report

__all__ = ["Diagnosis", "Evaluation", "diagnose", "evaluate", "evaluate_predictions",
           "model_info", "permutation_importance", "write_report"]
