"""What `trainforge train` shows while it works and when it is done."""

from __future__ import annotations

import math
import threading
import time
from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from trainforge.cli.render import candidate_rows, metrics_table

FAIRNESS_ROWS = 12  # groups shown in the terminal; the report has every one


class TrainingDisplay:
    """Prints the inferred task, a progress bar of the budget being spent, then the results."""

    def __init__(self, config: Any, *, started_at: float) -> None:
        self.config = config
        self.started_at = started_at
        self.console = Console()
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[status]}"), console=self.console,
                                 transient=True)
        self.bar: Any = None
        self.trials = 0
        self.best: float | None = None
        self.epoch: str = ""  # the network being trained, e.g. "cnn epoch 4/30, val loss 0.08"
        self.rules: list[str] = []  # the training rules that fired, by id
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._finish_bar()

    # ---- events from run_training ---------------------------------------------------------
    def on_task(self, task: Any, notes: list[str], profile: Any, features: list[str]) -> None:
        self.console.print(f"[bold]Task:[/] {task.describe()}")
        self.console.print(f"[bold]Features:[/] {len(features)} columns"
                           f" ({', '.join(features[:8])}{', …' if len(features) > 8 else ''})")
        for line in notes:
            self.console.print(f"[yellow]note:[/] {line}", highlight=False)
        for warning in list(getattr(profile, "warnings", []))[:6]:
            self.console.print(f"[yellow]data:[/] {warning}", highlight=False)
        self._start_bar()

    def on_trial_end(self, event: Any) -> None:
        self.trials += 1
        self.epoch = ""
        best = getattr(event, "best_score", None)
        if isinstance(best, float) and not math.isnan(best):
            self.best = best

    def on_epoch_end(self, event: Any) -> None:
        validation = "" if event.val_loss is None else f", val loss {event.val_loss:.4f}"
        self.epoch = (f" · {event.algorithm} epoch {event.epoch}/{event.max_epochs}"
                      f"{validation}")

    def on_rule(self, finding: Any) -> None:
        """A training rule fired: one line above the bar now, and a count on the bar."""
        self.rules.append(finding.rule)
        self.console.print(f"[bold yellow]rule:[/] {finding}", highlight=False)

    def on_phase(self, text: str) -> None:
        self._finish_bar()
        elapsed = time.time() - self.started_at
        self.console.print(f"[dim]{elapsed:5.1f} s  {text}…[/]")

    # ---- the bar of the budget being spent -----------------------------------------------------
    def _start_bar(self) -> None:
        budget = float(self.config.time_budget_s)
        total = float(self.config.trials) if self.config.trials else budget
        self.bar = self.progress.add_task("searching", total=total, status="")
        self.progress.start()

        def tick() -> None:
            while not self._stop.wait(0.25):
                self._update_bar(budget)

        self._ticker = threading.Thread(target=tick, daemon=True)
        self._ticker.start()

    def _update_bar(self, budget: float) -> None:
        elapsed = time.time() - self.started_at
        best = f", best {self.best:.4f}" if self.best is not None else ""
        done = float(self.trials) if self.config.trials else min(elapsed, budget)
        rules = (f" · [yellow]{len(self.rules)} rule warning{'s' if len(self.rules) > 1 else ''}"
                 f" ({self.rules[-1]})[/]" if self.rules else "")
        self.progress.update(self.bar, completed=done,
                             status=f"{elapsed:5.1f}/{budget:g} s · {self.trials} trials{best}"
                                    f"{self.epoch}{rules}")

    def _finish_bar(self) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
            self.progress.stop()

    # ---- the result ----------------------------------------------------------------------------
    def _semi_supervised(self, info: dict[str, Any], *, metric: str) -> None:
        table = Table(title=f"Semi-supervised: {info['unlabeled_rows']:,} unlabeled rows "
                            f"(chosen on {info['chosen_on']}); kept: {info['kept']}",
                      title_justify="left")
        for column in ("method", f"check {metric}", f"test {metric}", "pseudo-labels"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for row in info["methods"]:
            check, test = row.get("check_score"), row.get(f"test_{metric}")
            table.add_row(row["method"], "" if check is None else f"{check:.4f}",
                          "" if test is None else f"{test:.4f}",
                          f"{row.get('pseudo_labels', 0):,}")
        self.console.print(table)

    def _label_issues(self, info: dict[str, Any]) -> None:
        done = {"keep": "kept: the model learned from them as given",
                "drop": f"dropped {info['n_dropped']:,} before fitting the evaluated model",
                "review": "kept; written to label-issues.csv in the package, to correct"}
        if info.get("review_project"):
            done["review"] = (f"kept; {info.get('n_sent', 0):,} sent to labeling project "
                              f"{info['review_project']}: label them there, then "
                              f"`trainforge label export {info['review_project']}`")
        if not info["n_flagged"]:
            self.console.print(f"[bold]Label issues:[/] none found in {info['n_checked']:,} "
                               "training rows")
            return
        what = info.get("note") or done[str(info["action"])]
        self.console.print(f"[bold]Label issues:[/] {info['n_flagged']:,} of "
                           f"{info['n_checked']:,} training rows look mislabelled ({what}); "
                           "the report lists them", highlight=False)

    def _fairness(self, record: dict[str, Any]) -> None:
        """The group table (rates on the test split) and, with a constraint, the trade-off."""
        rate = "selection rate" if record.get("positive_class") is not None else None
        table = Table(title=f"Fairness across {', '.join(record['sensitive_features'])} "
                            "(test split)", title_justify="left")
        columns = [("feature", "feature"), ("group", "group"), ("size", "rows")]
        columns += [(key, label) for key, label in (
            ("selection_rate", rate), ("true_positive_rate", "TPR"),
            ("false_positive_rate", "FPR"), ("accuracy", "accuracy"), ("error", "error"))
            if label and any(g.get(key) is not None for g in record["groups"])]
        for _, label in columns:
            table.add_column(label, justify="left" if label in ("feature", "group") else "right")
        for group in record["groups"][:FAIRNESS_ROWS]:
            table.add_row(*(_cell(group.get(key)) for key, _ in columns))
        self.console.print(table)
        if len(record["groups"]) > FAIRNESS_ROWS:
            self.console.print(f"[dim]… {len(record['groups']) - FAIRNESS_ROWS} more groups in "
                               "the report[/]")
        for name, shown in record["summary"].items():
            if shown is not None and shown.get("value") is not None and "difference" in name:
                interval = ("" if shown.get("low") is None else
                            f" (95% interval {shown['low']:.3f}–{shown['high']:.3f})")
                self.console.print(f"  {name.replace('_', ' ')}: {shown['value']:.3f}{interval}",
                                   highlight=False)
        compared = {row["model"]: row for row in record.get("comparison") or []}
        if {"unconstrained", "constrained"} <= set(compared):
            before, after = compared["unconstrained"], compared["constrained"]
            self.console.print(
                f"[bold]Constraint {record['constraint']}:[/] demographic parity difference "
                f"{before['demographic_parity_difference']:.3f} → "
                f"{after['demographic_parity_difference']:.3f}, accuracy "
                f"{before['accuracy']:.4f} → {after['accuracy']:.4f} (per-group thresholds; "
                f"predictions need {', '.join(record['sensitive_features'])})", highlight=False)

    def summary(self, outcome: Any) -> None:
        out = self.console
        board = Table(title="Leaderboard (validation score; the test split was not used)",
                      title_justify="left")
        rows = candidate_rows(outcome.search.leaderboard)
        for column in rows[0] if rows else []:
            board.add_column(column, justify="left" if column in ("algorithm", "status") else "right")
        for row in rows[:15]:
            board.add_row(*row.values())
        out.print(board)
        if len(rows) > 15:
            more = len(rows) - 15
            out.print(f"[dim]… and {more} more candidate{'s' if more > 1 else ''} in the report[/]")
        if outcome.semi_supervised:
            self._semi_supervised(outcome.semi_supervised, metric=outcome.task.metric)
        out.print(metrics_table(outcome.evaluation, title="Test metrics (held-out split)"))
        if outcome.label_issues:
            self._label_issues(outcome.label_issues)
        if outcome.fairness:
            self._fairness(outcome.fairness)
        out.print(str(outcome.diagnosis), highlight=False)
        version = outcome.version
        spent = (f"{outcome.elapsed_s:.1f} s, {self.config.trials} trials" if self.config.trials
                 else f"{outcome.elapsed_s:.1f} s of a {self.config.time_budget_s:g} s budget")
        refit = ("refit on all labelled rows after the evaluation" if outcome.refitted
                 else "the evaluated model: no time was left to refit it on all rows")
        out.print(f"[bold green]Registered[/] {version.name}:{version.version}  ({spent}; "
                  f"{refit})")
        out.print(f"[bold]Report:[/] {outcome.report_path}")
        images = any(f.dtype == "image" for f in outcome.search.model.features)
        new_data = "new_images/" if images else "new.csv"
        out.print(f"[bold]Next:[/] trainforge models alias {version.name} {version.version} production\n"
                  f"      trainforge serve {version.name}          # http://127.0.0.1:8000/docs\n"
                  f"      trainforge predict {version.name} {new_data} -o predictions.csv")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
