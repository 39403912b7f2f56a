"""The evaluation report: one self-contained HTML file (inline CSS and PNG plots, no scripts,
no external URLs) that a user can open, mail or archive next to the model.

    write_report(Path("report.html"), title="credit_g", task=model.task, evaluation=evaluation,
                 diagnosis=diagnosis, leaderboard=rows, profile=profile.to_dict(),
                 importance=importance, model_info={"algorithms": [...], "lineage": {...}})
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainforge.algorithms.model import TabularModel
from trainforge.data.metrics import METRICS
from trainforge.data.task import Task
from trainforge.evaluation.diagnosis import Diagnosis
from trainforge.evaluation.evaluate import Evaluation
from trainforge.evaluation.explanations import GlobalExplanation
from trainforge.evaluation.privacy_statement import privacy_paragraphs, privacy_record
from trainforge.runtime.rules import Finding

# the keys a leaderboard row may name its candidate and its score by, in order of preference
_NAME_KEYS = ("name", "algorithm", "model", "candidate", "trial")
_TRIAL_KEYS = ("trial", "number")
_SCORE_KEYS = ("score", "validation_score", "val_score", "mean_score")


MAX_LEARNING_CURVES = 4  # networks whose curves are drawn (the blend's heaviest)


def _plots(task: Task, evaluation: Evaluation,
           importance: Sequence[tuple[str, float, float]] | None,
           board: tuple[list[str], list[float]] | None,
           learning_curves: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    from trainforge.evaluation import plots  # matplotlib: only when a report is drawn

    drawn: dict[str, str] = {}
    for label, history in list(learning_curves.items())[:MAX_LEARNING_CURVES]:
        drawn[f"Learning curve: {label}"] = plots.learning_curve(label, history)
    if evaluation.proba is not None:
        y, proba = evaluation.y_true, evaluation.proba
        if len(set(y.tolist())) >= 2:
            drawn["ROC"] = plots.roc_curves(y, proba, task.classes)
            drawn["Precision-recall"] = plots.pr_curves(y, proba, task.classes)
        drawn["Calibration"] = plots.calibration(y, proba, task.classes)
        if evaluation.confusion is not None:
            drawn["Confusion matrix"] = plots.confusion_matrix(evaluation.confusion, task.classes)
    else:
        drawn["Predicted vs actual"] = plots.predicted_vs_actual(
            evaluation.y_true, evaluation.predictions, task.target)
        drawn["Residuals"] = plots.residuals(evaluation.y_true, evaluation.predictions,
                                             task.target)
    if importance:
        drawn["Permutation importance"] = plots.importance_bars(importance, task.metric)
    if board is not None:
        drawn["Candidates"] = plots.leaderboard_bars(board[0], board[1], task.metric)
    return drawn


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def leaderboard_scores(rows: Sequence[Mapping[str, Any]], task: Task
                       ) -> tuple[list[str], list[float]] | None:
    """Candidate names and scores from leaderboard rows, best first; None if no row has a score.

    A row names its score by the task's metric or ``score`` (or ``validation_score``…) and
    itself by ``name`` (or ``algorithm``, ``model``…), plus ``#N`` when it has a ``trial`` or
    ``number``.
    """
    key = next((k for k in (task.metric, *_SCORE_KEYS)
                if any(_is_number(row.get(k)) for row in rows)), None)
    if key is None:
        return None
    scored = [row for row in rows if _is_number(row.get(key))]
    metric = METRICS.get(task.metric)
    scored.sort(key=lambda row: float(row[key]),
                reverse=metric is None or metric.higher_is_better)
    names = []
    for position, row in enumerate(scored, start=1):
        label = next((str(row[k]) for k in _NAME_KEYS if row.get(k) not in (None, "")),
                     f"candidate {position}")
        trial = next((row[k] for k in _TRIAL_KEYS if row.get(k) is not None), None)
        if trial is not None and label != str(trial):
            label += f" #{trial}"
        names.append(label)
    return names, [float(row[key]) for row in scored]


def learning_curves(model: TabularModel) -> dict[str, dict[str, Any]]:
    """Label → learning curve of each network in ``model`` (heaviest weight first)."""
    curves: dict[str, dict[str, Any]] = {}
    members = sorted(model.members, key=lambda m: -m.weight)
    for position, member in enumerate(members):
        history = getattr(member.estimator, "history_", None)
        if isinstance(history, dict) and history.get("epochs"):
            label = member.algorithm if member.algorithm not in curves else (
                f"{member.algorithm} ({position + 1})")
            curves[label] = history
    return curves


def model_info(model: TabularModel, *, lineage: Mapping[str, Any] | None = None
               ) -> dict[str, Any]:
    """What the report's Model section shows about ``model``: the blend's algorithms with their
    share of the vote and their params, the input columns, and ``lineage`` as given."""
    total = sum(member.weight for member in model.members) or 1.0
    info: dict[str, Any] = {
        "algorithms": [{"algorithm": member.algorithm, "weight": member.weight / total,
                        "params": dict(member.params)} for member in model.members],
        "input columns": ", ".join(f"{f.name} ({f.kind.value})" for f in model.features),
    }
    if lineage:
        info["lineage"] = dict(lineage)
    return info


def _format(value: Any, key: str = "") -> str:
    """One cell: numbers to 4 significant digits (``*_share`` as %), containers in short."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if key.endswith("_share") and 0.0 <= value <= 1.0:
            return f"{value:.1%}"
        if abs(value) < 1e-12:
            return "0"  # float noise such as -3.7e-17 reads as a real value
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}: {_format(v, str(k))}" for k, v in value.items())
    elif isinstance(value, list | tuple | set):
        text = ", ".join(_pair(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= 160 else text[:159] + "…"


def _pair(value: Any) -> str:
    """A (value, count) pair, as in a profile's top values, reads 'value (count)'."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{_format(value[0])} ({_format(value[1])})"
    return _format(value)


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The union of the rows' keys, in first-seen order."""
    return list(dict.fromkeys(str(k) for row in rows for k in row))


def _is_table(value: Any) -> bool:
    return (isinstance(value, list | tuple) and len(value) > 0
            and all(isinstance(v, Mapping) for v in value))


def template_environment() -> Any:
    """The reports' Jinja environment: their templates, the `fmt` and `columns` filters and
    the `table` test the shared macros use."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("trainforge.evaluation", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["fmt"] = _format
    environment.filters["columns"] = _columns
    environment.tests["table"] = _is_table
    return environment


def write_report(path: Path, *, title: str, task: Task, evaluation: Evaluation,
                 diagnosis: Diagnosis, leaderboard: Sequence[Mapping[str, Any]],
                 profile: Mapping[str, Any] | None,
                 importance: Sequence[tuple[str, float, float]] | None,
                 model_info: Mapping[str, Any],
                 learning_curves: Mapping[str, Mapping[str, Any]] | None = None,
                 personal_data: Mapping[str, Any] | None = None,
                 label_issues: Mapping[str, Any] | None = None,
                 rule_findings: Sequence[Finding] = (),
                 fairness: Mapping[str, Any] | None = None,
                 explanation: GlobalExplanation | None = None,
                 privacy: Mapping[str, Any] | None = None) -> Path:
    """Write the report to ``path`` (its folder is created) and return the path.

    ``leaderboard``: one mapping per candidate (keys as they come; see ``leaderboard_scores``).
    ``profile``: ``Profile.to_dict()``, shown as it comes. ``model_info``: anything worth
    showing about the model (its algorithms, lineage), shown as nested tables.
    ``learning_curves``: label → a network's ``FitHistory.to_dict()``, drawn per epoch.
    ``personal_data``: ``{"policy": ..., "columns": {column: what was done}}`` (``--pii``).
    ``label_issues``: rows whose label looks wrong (``--label-issues``): ``n_checked``,
    ``n_flagged``, ``method``, ``action``, ``n_dropped``, ``note``, ``files``, ``classes`` and
    ``top``, the likeliest as ``{row, given, likely, given_probability, likely_probability}``.
    ``rule_findings``: the training rules that fired (networks live, the search after it),
    listed under the diagnosis with what to try.
    ``fairness``: the record of ``evaluation.fairness.assess`` (``--sensitive-features``).
    ``explanation``: mean |SHAP| per column and dependence plots (``global_explanation``).
    ``privacy``: the DP-SGD budget the network spent (``lineage.differential_privacy``).
    """
    board = leaderboard_scores(leaderboard, task)
    shown_privacy = privacy_record(privacy)
    fairness_plot = None
    if fairness is not None:
        from trainforge.evaluation.fairness_plots import selection_rate_plot

        fairness_plot = selection_rate_plot(fairness["groups"])
    return render_page(
        path, "report.html.j2", title=title, task=task, evaluation=evaluation,
        diagnosis=diagnosis, leaderboard=list(leaderboard), profile=profile,
        importance=list(importance or []), model_info=model_info, personal_data=personal_data,
        label_issues=label_issues, rule_findings=list(rule_findings),
        fairness=fairness, fairness_plot=fairness_plot, explanation=explanation,
        privacy=shown_privacy, privacy_text=privacy_paragraphs(shown_privacy) if shown_privacy
        else [],
        plots=_plots(task, evaluation, importance, board, learning_curves or {}))


def render_page(path: Path, template: str, **context: Any) -> Path:
    """Render one of the report templates to ``path`` (its folder is created), atomically:
    a reader never sees half a report. ``created`` is added to the context."""
    page = template_environment().get_template(template).render(
        **context, created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, path)
    return path
