"""`trainforge cluster` and `trainforge anomalies`: learning from a table with no target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Self

import typer

_Features = Annotated[str | None, typer.Option(
    help="comma-separated columns to compare rows by (default: every usable column)")]
_Exclude = Annotated[str | None, typer.Option(
    help="comma-separated columns to leave out, e.g. a label or an id")]


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else ()


def _config(build: Callable[..., Any], fields: dict[str, Any]) -> Any:
    """The job's config from the flags; a bad value names the flag."""
    from pydantic import ValidationError

    from trainforge.errors import ConfigError

    try:
        return build(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(f"{_flag(e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"invalid settings: {problems}") from None


def _flag(location: tuple[Any, ...]) -> str:
    field = ".".join(map(str, location)).removesuffix("_s")
    return field if field == "data" else "--" + field.replace("_", "-")


class _Phases:
    """Prints each phase of the job as it starts, with a spinner while it runs."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console()
        self.status: Any = None

    def __enter__(self) -> Self:
        self.status = self.console.status("reading the data")
        self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.__exit__(*exc)

    def on_phase(self, text: str) -> None:
        self.status.update(text)


def cluster(
    data: Annotated[str, typer.Argument(help="CSV/TSV/Parquet/JSON/Excel file, or a database "
                                             "URL with --sql")],
    name: Annotated[str | None, typer.Option(
        help="registry name (default: the file's name + '-segments')")] = None,
    features: _Features = None,
    exclude: _Exclude = None,
    method: Annotated[str, typer.Option(
        help="auto, kmeans, gmm, agglomerative or hdbscan")] = "auto",
    k: Annotated[int | None, typer.Option(
        "--k", help="number of segments (default: chosen by silhouette/BIC, 2 to 10)")] = None,
    time_budget: Annotated[float, typer.Option(
        "--time-budget", help="seconds for comparing methods and numbers of segments")] = 60,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    sql: Annotated[str | None, typer.Option(help="SQL query; DATA is then a SQLAlchemy URL")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="also write the table with a `segment` column (CSV/Parquet)")] = None,
) -> None:
    """Segment the rows of a table without labels; describe each segment; register the model.

    The method and the number of segments are chosen on the data and shown; `trainforge
    predict NAME new.csv` then gives new rows their segment.
    """
    from trainforge.config import ClusterConfig
    from trainforge.jobs.segments import run_clustering
    from trainforge.workspace import Workspace

    settings = _config(ClusterConfig, {
        "data": data, "name": name, "sql": sql, "features": _names(features) or None,
        "exclude": _names(exclude), "method": method, "k": k, "time_budget_s": time_budget,
        "seed": seed})
    with _Phases() as phases:
        outcome = run_clustering(settings, workspace=Workspace(), observers=[phases])
    _show_segments(phases.console, outcome)
    if output is not None:
        _write_rows(phases.console, settings, output, {"segment": outcome.result.labels})
    _next_steps(phases.console, outcome.version, outcome.report_path)


def anomalies(
    data: Annotated[str, typer.Argument(help="CSV/TSV/Parquet/JSON/Excel file, or a database "
                                             "URL with --sql")],
    name: Annotated[str | None, typer.Option(
        help="registry name (default: the file's name + '-anomalies')")] = None,
    features: _Features = None,
    exclude: _Exclude = None,
    method: Annotated[str, typer.Option(
        help="auto, lof, isolation_forest or robust_covariance")] = "auto",
    contamination: Annotated[str, typer.Option(
        help="'auto', or the expected share of anomalies in (0, 0.5], e.g. 0.01")] = "auto",
    top: Annotated[int, typer.Option(help="anomalies to describe")] = 10,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    sql: Annotated[str | None, typer.Option(help="SQL query; DATA is then a SQLAlchemy URL")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="also write the table with `anomaly_score` and `is_anomaly` "
                               "columns (CSV/Parquet)")] = None,
) -> None:
    """Score every row of a table for how unusual it is; describe the top anomalies and what
    drives them; register the detector (`trainforge predict` then scores new rows)."""
    from trainforge.config import AnomalyConfig
    from trainforge.jobs.segments import run_anomalies
    from trainforge.workspace import Workspace

    settings = _config(AnomalyConfig, {
        "data": data, "name": name, "sql": sql, "features": _names(features) or None,
        "exclude": _names(exclude), "method": method, "contamination": contamination,
        "top": top, "seed": seed})
    with _Phases() as phases:
        outcome = run_anomalies(settings, workspace=Workspace(), observers=[phases])
    _show_anomalies(phases.console, outcome)
    if output is not None:
        _write_rows(phases.console, settings, output, {"anomaly_score": outcome.result.scores,
                                                       "is_anomaly": outcome.result.is_anomaly})
    _next_steps(phases.console, outcome.version, outcome.report_path)


def _notes(console: Any, notes: list[str]) -> None:
    for note in notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)


def _show_segments(console: Any, outcome: Any) -> None:
    from rich.table import Table

    result = outcome.result
    _notes(console, outcome.notes)
    rows = outcome.candidates
    table = Table(title="Each method's best (silhouette: higher is better; BIC: lower is "
                        "better)", title_justify="left")
    for column in ("method", "k", "criterion", "score", "silhouette", "s", ""):
        table.add_column(column, justify="left" if column in ("method", "criterion") else "right")
    for row in _best_per_method(rows):
        table.add_row(row["method"], str(row["k"]), row["criterion"], f"{row['score']:.4g}",
                      f"{row['silhouette']:.3f}", f"{row['fit_s']:.2f}",
                      "[bold green]chosen[/]" if row["chosen"] else "")
    console.print(table)
    console.print(f"[dim]{len(rows)} candidates compared; the report lists them all[/]")
    console.print(f"[bold]{result.n_clusters} segments[/] by {result.method} over "
                  f"{len(result.features)} features ({', '.join(result.features[:8])}"
                  f"{', …' if len(result.features) > 8 else ''})", highlight=False)
    for segment in outcome.described.segments:
        console.print(f" • {segment.summary}", highlight=False)


def _best_per_method(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each method's best candidate by its own criterion, in the order tried."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        sign = -1.0 if row["criterion"] == "bic" else 1.0
        held = best.get(row["method"])
        if row["chosen"] or held is None or (not held["chosen"] and row["score"] == row["score"]
                                             and sign * row["score"] > sign * held["score"]):
            best[row["method"]] = row
    return list(best.values())


def _show_anomalies(console: Any, outcome: Any) -> None:
    from rich.table import Table

    result = outcome.result
    _notes(console, outcome.notes)
    flagged = int(result.is_anomaly.sum())
    console.print(f"[bold]{flagged:,} of {len(result.scores):,} rows[/] are anomalies "
                  f"({flagged / len(result.scores):.1%}) by {result.method}: score above "
                  f"{result.threshold:.4g}", highlight=False)
    table = Table(title=f"Top {len(outcome.described.anomalies)} (row numbers count from 0, "
                        "header excluded)", title_justify="left")
    for column in ("row", "score", "why"):
        table.add_column(column, justify="left" if column == "why" else "right")
    for anomaly in outcome.described.anomalies:
        table.add_row(str(anomaly.position), f"{anomaly.score:.4g}",
                      anomaly.summary.split(": ", 1)[-1])
    console.print(table)


def _write_rows(console: Any, settings: Any, output: Path, columns: dict[str, Any]) -> None:
    from trainforge.jobs.segments import write_rows_with

    n_rows = write_rows_with(settings, output, columns)
    console.print(f"[bold]Wrote[/] {output} ({n_rows:,} rows with `{next(iter(columns))}`)")


def _next_steps(console: Any, version: Any, report: Path) -> None:
    console.print(f"[bold green]Registered[/] {version.name}:{version.version}")
    console.print(f"[bold]Report:[/] {report}")
    console.print(f"[bold]Next:[/] trainforge predict {version.name} new.csv -o scored.csv\n"
                  f"      trainforge serve {version.name}          # http://127.0.0.1:8000/docs")
