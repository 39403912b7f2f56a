"""The UI's read pages: dashboard, datasets, jobs, runs (with live curves), models.

Each handler reads through the store and the registry, the functions the REST API uses, and
renders one template. A browser without a session is sent to the login page. Jobs and runs are
shown as the API shows them: datasets by id and name, never by the server's paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from trainforge.errors import ModelNotFound, RunNotFound, TrainforgeError
from trainforge.runtime.rules import ADVICE
from trainforge.server.shown_paths import without_paths
from trainforge.server.ui.render import (
    missing_page,
    page,
    signed_in,
    to_login,
    workspace_of,
)
from trainforge.store import jobs, uploads
from trainforge.store.datasets import get_dataset
from trainforge.store.runs import get_run, list_runs

router = APIRouter(include_in_schema=False)
LIVE = ("queued", "running")  # pages of these keep polling


@router.get("/")
async def dashboard(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    ws = workspace_of(request)
    return page(request, "dashboard.html.j2", viewer,
                jobs=without_paths(jobs.list_jobs(ws, limit=8), ws),
                runs=without_paths(list_runs(ws, limit=8), ws),
                models=ws.registry.list_models()[:8],
                datasets=uploads.list_uploads(ws, limit=5))


@router.get("/datasets")
async def datasets_page(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    return page(request, "datasets.html.j2", viewer,
                datasets=uploads.list_uploads(workspace_of(request)))


@router.get("/datasets/{dataset_id}")
async def dataset_page(request: Request, dataset_id: str) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    ws = workspace_of(request)
    try:
        upload = uploads.get_upload(ws, dataset_id)
    except TrainforgeError as error:
        return missing_page(request, viewer, error)
    recorded: Mapping[str, Any] | None = (get_dataset(ws, upload["dataset_id"])
                                          if upload["dataset_id"] else None)
    return page(request, "dataset.html.j2", viewer, upload=upload, dataset=recorded,
                profile=(recorded or {}).get("profile") or {})


@router.get("/jobs")
async def jobs_page(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    ws = workspace_of(request)
    listed = without_paths(jobs.list_jobs(ws, limit=200), ws)
    template = "jobs_rows.html.j2" if request.headers.get("hx-request") else "jobs.html.j2"
    return page(request, template, viewer, jobs=listed,
                live=any(j["status"] in LIVE for j in listed))


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: str) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    ws = workspace_of(request)
    try:
        job = without_paths(jobs.get_job(ws, job_id), ws)
    except TrainforgeError as error:
        return missing_page(request, viewer, error)
    return page(request, "job.html.j2", viewer, job=job,
                log=without_paths(jobs.read_log(ws, job_id), ws), live=job["status"] in LIVE)


@router.get("/jobs/{job_id}/log")
async def job_log(request: Request, job_id: str, after: int = 0) -> Response:
    """The log lines after ``after`` and the job's status: the job page polls this."""
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    ws = workspace_of(request)
    job = without_paths(jobs.get_job(ws, job_id), ws)
    return page(request, "job_log.html.j2", viewer, job=job,
                log=without_paths(jobs.read_log(ws, job_id, after=after), ws),
                live=job["status"] in LIVE)


RUNS_PER_PAGE = 100


@router.get("/runs")
async def runs_page(request: Request, offset: int = 0) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    offset = max(0, offset)
    ws = workspace_of(request)
    shown = without_paths(list_runs(ws, limit=RUNS_PER_PAGE + 1, offset=offset), ws)
    return page(request, "runs.html.j2", viewer, runs=shown[:RUNS_PER_PAGE], offset=offset,
                newer=max(0, offset - RUNS_PER_PAGE) if offset else None,
                older=offset + RUNS_PER_PAGE if len(shown) > RUNS_PER_PAGE else None)


@router.get("/runs/compare")
async def compare_page(request: Request, ids: str = "") -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    ws = workspace_of(request)
    try:
        compared = without_paths([get_run(ws, run_id) for run_id in ids.split(",")
                                  if run_id][:6], ws)
    except RunNotFound as error:
        return missing_page(request, viewer, error)
    return page(request, "compare.html.j2", viewer, runs=compared,
                settings=_differences([r["config"] for r in compared]),
                metrics=_metric_rows([r.get("metrics") or {} for r in compared]))


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    ws = workspace_of(request)
    try:
        run = without_paths(get_run(ws, run_id), ws)
    except RunNotFound as error:
        return missing_page(request, viewer, error)
    return page(request, "run.html.j2", viewer, run=run, live=run["status"] in LIVE,
                flat_metrics=_flat(run.get("metrics") or {}), leaderboard=_leaderboard(run),
                rule_findings=_rule_findings(run))


def _rule_findings(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The training rules that fired, from the run's ``rules.RULE[.WHERE]`` series."""
    found = []
    for key, points in run["series"].items():
        part, _, rest = key.partition(".")
        if part != "rules" or not rest:
            continue
        rule, _, where = rest.partition(".")
        found += [{"rule": rule, "where": where, "step": p["step"], "value": p["value"],
                   "advice": ADVICE.get(rule, "")} for p in points]
    return sorted(found, key=lambda f: f["step"])


@router.get("/runs/{run_id}/series")
async def run_series(request: Request, run_id: str) -> Response:
    """Every metric series of the run as ``{key: [[step...], [value...]]}`` for the charts."""
    if signed_in(request) is None:
        return JSONResponse({"detail": "not signed in"}, status_code=401)
    run = get_run(workspace_of(request), run_id)
    series = {key: [[p["step"] for p in points], [p["value"] for p in points]]
              for key, points in run["series"].items()
              if not key.startswith("rules.")}  # findings, listed on the page, not curves
    return JSONResponse({"status": run["status"], "series": series})


@router.get("/models")
async def models_page(request: Request) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    return page(request, "models.html.j2", viewer,
                models=workspace_of(request).registry.list_models())


@router.get("/models/{name}")
async def model_page(request: Request, name: str) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    registry = workspace_of(request).registry
    try:
        versions = registry.versions(name)
    except ModelNotFound as error:
        return missing_page(request, viewer, error)
    latest = registry.show(f"{name}:{versions[-1].version}")
    from trainforge.algorithms.online import UPDATABLE

    updatable = any(m.get("algorithm") in UPDATABLE for m in latest.get("members", []))
    return page(request, "model.html.j2", viewer, name=name, versions=list(reversed(versions)),
                latest=latest, test_metrics=_flat(latest.get("metrics", {})),
                updatable=updatable)


@router.get("/models/{name}/{version}/report")
async def model_report(request: Request, name: str, version: int) -> Response:
    viewer = signed_in(request)
    if viewer is None:
        return to_login(request)
    try:
        shown = workspace_of(request).registry.show(f"{name}:{version}")
    except ModelNotFound as error:
        return missing_page(request, viewer, error)
    from pathlib import Path

    report = Path(shown["path"]) / "report.html"
    if not report.is_file():
        return page(request, "missing.html.j2", viewer, status=404,
                    message=f"{name}:{version} has no report")
    # the report is self-contained and script-free; this policy keeps it so
    return FileResponse(report, media_type="text/html", headers={
        "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})


def _leaderboard(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each algorithm's best validation score and trial count, best first, from the
    ``trials.<algorithm>`` series the run records as it searches."""
    from trainforge.data.task import LOWER_IS_BETTER

    lower = (run.get("config") or {}).get("metric") in LOWER_IS_BETTER
    rows = []
    for key, points in run["series"].items():
        if key.startswith("trials.") and points:
            scores = [p["value"] for p in points]
            rows.append({"algorithm": key.removeprefix("trials."), "trials": len(scores),
                         "best": min(scores) if lower else max(scores)})
    return sorted(rows, key=lambda r: r["best"], reverse=not lower)


def _flat(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics to show: the test split's when grouped by split, else as they are."""
    test = metrics.get("test")
    chosen = test if isinstance(test, dict) else metrics
    return {k: v for k, v in chosen.items() if isinstance(v, (int, float))}


def _differences(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per setting, with each run's value; settings that differ come first."""
    keys = sorted({key for config in configs for key in config})
    rows = [{"setting": key, "values": [config.get(key) for config in configs]} for key in keys]
    return sorted(rows, key=lambda r: len({repr(v) for v in r["values"]}) == 1)


def _metric_rows(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flats = [_flat(m) for m in metrics]
    keys = sorted({key for flat in flats for key in flat})
    return [{"metric": key, "values": [flat.get(key) for flat in flats]} for key in keys]
