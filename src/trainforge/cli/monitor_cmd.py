"""`trainforge monitor NAME`: a deployment's drift, violations and prediction drift, from what
its servers logged, as a summary and (``-o``) an HTML report with plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from trainforge.monitoring.monitor import Monitoring


def monitor(name: Annotated[str, typer.Argument(help="the deployment's URL name (`trainforge "
                                                    "serve` logs under the model's name)")],
            window: Annotated[str, typer.Option(help="rows per window (1000) or a span of "
                                                     "time per window (6h, 1d)")] = "1000",
            since: Annotated[str | None, typer.Option(help="only rows logged since: a span "
                                                           "back (7d) or an ISO date")] = None,
            output: Annotated[Path | None, typer.Option(
                "--output", "-o", help="write the HTML report with plots here")] = None) -> None:
    """Drift of a deployed model's inputs and predictions against its training data."""
    import trainforge as tf
    from trainforge.monitoring.monitor import parse_since

    result = tf.monitor(name, window=window,
                        since=parse_since(since) if since is not None else None)
    render_monitoring(result)
    if output is not None:
        from trainforge.monitoring.report import write_monitoring_report

        path = write_monitoring_report(output, result)
        typer.echo(f"report: {path}")


def render_monitoring(result: Monitoring) -> None:
    from rich.console import Console
    from rich.table import Table

    from trainforge.monitoring.report import feature_rows

    console = Console()
    console.print(f"[bold]{result.deployment}[/]: {result.n_rows:,} logged rows, windows of "
                  f"{result.window}" + (f", compared with {result.model}" if result.model else ""),
                  highlight=False)
    if result.note:
        console.print(result.note, highlight=False)
    latest = result.latest
    if latest is None:
        return
    drifted = latest.drifted_features
    console.print(f"latest window ({latest.n_rows:,} rows): "
                  + (f"[red]drifted: {', '.join(drifted)}[/]" if drifted else "no feature drifted")
                  + (" · [red]the predictions drifted[/]"
                     if latest.prediction is not None and latest.prediction.drifted else ""),
                  highlight=False)
    table = Table()
    for column in ("column", "drifted", "tests (statistic, threshold)", "missing",
                   "violations"):
        table.add_column(column)
    for row in feature_rows(latest):
        violations = (f"{row['new_categories']} new, {row['out_of_range']} out of range, "
                      f"{row['wrong_type']} wrong type")
        table.add_row(row["name"], "[red]yes[/]" if row["drifted"] else row["skipped"] or "no",
                      row["tests"], f"{row['missing']:.1%} (training {row['reference_missing']:.1%})",
                      violations)
    console.print(table)
    if result.performance:
        point = result.performance[-1]
        test = result.test_metrics.get(point.metric)
        console.print(f"{point.metric} on the labelled feedback: {point.value:.4g} in the latest "
                      f"window ({point.n_rows:,} labelled rows)"
                      + (f", {test:.4g} on the test split at training" if test is not None
                         else ""), highlight=False)
    console.print(f"{len(result.windows)} windows; p-values judged at 0.01 / columns compared "
                  "(Bonferroni); a window of up to 1,000 rows is judged by its test (KS, "
                  "chi²), a larger one by its distance (PSI ≥ 0.2, JS ≥ 0.1)", highlight=False)
