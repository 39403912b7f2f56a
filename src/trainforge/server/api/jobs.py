"""``/api/v1/jobs``: submit the jobs the CLI's verbs start (train, predict, evaluate, cluster,
anomalies, rl train and eval); follow and cancel them.

Thin: the body is validated by ``job_requests``, queued by ``job_requests.submit`` (the web UI
calls the same), run by a worker (``server/workers.py``); these routes read the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from trainforge.errors import JobHasNoOutput
from trainforge.server.api.bodies import BoundedBodyRoute
from trainforge.server.api.statuses import MAX_POSITION, SIGNED_IN, documented
from trainforge.server.api.usage import priced, rate_of
from trainforge.server.auth import require, state_of
from trainforge.server.job_requests import JobRequest, submit
from trainforge.server.running import OUTPUT_NAME, output_path
from trainforge.server.shown_paths import without_paths
from trainforge.store import jobs as job_store
from trainforge.store.access import Principal
from trainforge.store.jobs import JobRecord
from trainforge.store.runs import get_run

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobView(BaseModel):
    """A job as the API shows it: where it is, how long it took, what it produced."""

    id: str
    kind: str
    status: Status
    config: dict[str, Any]
    submitted_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker: str | None
    attempts: int
    cancel_requested: bool
    run_id: str | None  # the training run: its metrics are at /jobs/{id}/metrics
    # train, cluster, anomalies, rl_train: model ref, metrics, report URL (and the segments,
    # the top anomalies); predict: its output; evaluate, rl_eval: metrics
    result: dict[str, Any] | None
    error: str | None
    cpu_s: float | None  # CPU-seconds its workers spent on it (every attempt that ended)
    peak_memory_mb: float | None  # its worker's peak resident memory while it ran
    cost: float | None  # cpu_s at the server's rate (--cost-per-cpu-hour); None without one
    currency: str | None


class LogLine(BaseModel):
    id: int
    at: datetime
    text: str


class JobLogView(BaseModel):
    """Log lines after ``after``; poll again with ``after=next_after`` until ``done``."""

    job_id: str
    status: Status
    done: bool
    lines: list[LogLine]
    next_after: int


class JobMetricsView(BaseModel):
    """The run's metric series (trial scores, each network's losses per epoch), live."""

    job_id: str
    run_id: str | None
    series: dict[str, list[dict[str, Any]]]


def shown(request: Request, job: JobRecord) -> dict[str, Any]:
    """The job as a client sees it: its config, result and error without server paths, and
    its cost at the server's rate."""
    return priced(without_paths(job, state_of(request).workspace), rate_of(request))


def router() -> APIRouter:
    jobs = APIRouter(prefix="/jobs", tags=["jobs"], route_class=BoundedBodyRoute,
                     responses=SIGNED_IN)
    unknown = documented(404)

    @jobs.post("", summary="Queue a job: train, predict, evaluate, cluster, anomalies, rl_train, rl_eval, update or federated_simulate",
               response_model=JobView, status_code=201)  # an unknown upload or model: 422
    def submit_job(request: Request, body: Annotated[JobRequest, Body()],
                   who: Annotated[Principal, Depends(require("editor", "submit jobs"))]
                   ) -> dict[str, Any]:
        state = state_of(request)
        return shown(request, submit(state.workspace, body, who, capacity=state.capacity))

    @jobs.get("", summary="The newest jobs first, optionally of one status",
              response_model=list[JobView])
    def list_jobs(request: Request,
                  who: Annotated[Principal, Depends(require("viewer", "list jobs"))],
                  status: Status | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        return [shown(request, job) for job in
                job_store.list_jobs(state_of(request).workspace, status=status, limit=limit)]

    @jobs.get("/{job_id}", summary="A job's status, timings, attempts, run and result",
              response_model=JobView, responses=unknown)
    def get_job(request: Request, job_id: str,
                who: Annotated[Principal, Depends(require("viewer", "read jobs"))]
                ) -> dict[str, Any]:
        return shown(request, job_store.get_job(state_of(request).workspace, job_id))

    @jobs.get("/{job_id}/logs", summary="A job's log lines after line `after` (for polling)",
              response_model=JobLogView, responses=unknown)
    def job_logs(request: Request, job_id: str,
                 who: Annotated[Principal, Depends(require("viewer", "read job logs"))],
                 after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0) -> dict[str, Any]:
        workspace = state_of(request).workspace
        # the status first: a line written after it is read next time, never lost
        status = job_store.get_job(workspace, job_id)["status"]
        lines = job_store.read_log(workspace, job_id, after=after)
        return {"job_id": job_id, "status": status, "done": status in job_store.FINISHED,
                "lines": [{**line, "text": without_paths(line["text"], workspace)}
                          for line in lines],
                "next_after": lines[-1]["id"] if lines else after}

    @jobs.get("/{job_id}/metrics", summary="The metric series of a training job's run",
              response_model=JobMetricsView, responses=unknown)
    def job_metrics(request: Request, job_id: str,
                    who: Annotated[Principal, Depends(require("viewer", "read job metrics"))]
                    ) -> dict[str, Any]:
        workspace = state_of(request).workspace
        run_id = job_store.get_job(workspace, job_id)["run_id"]
        series = {} if run_id is None else get_run(workspace, run_id)["series"]
        return {"job_id": job_id, "run_id": run_id, "series": series}

    @jobs.get("/{job_id}/output", summary="The predictions file a predict job wrote",
              response_class=FileResponse, responses=unknown)
    def job_output(request: Request, job_id: str,
                   who: Annotated[Principal, Depends(require("viewer", "download outputs"))]
                   ) -> FileResponse:
        workspace = state_of(request).workspace
        job = job_store.get_job(workspace, job_id)
        path = output_path(workspace, job_id)
        if job["kind"] != "predict" or job["status"] != "succeeded" or not path.is_file():
            raise JobHasNoOutput(job_id, job["kind"], job["status"])
        return FileResponse(path, media_type="text/csv",
                            filename=f"{job_id[:8]}-{OUTPUT_NAME}")

    @jobs.post("/{job_id}/cancel", summary="Cancel a queued job, or stop a running one",
               response_model=JobView, responses=unknown)
    def cancel_job(request: Request, job_id: str,
                   who: Annotated[Principal, Depends(require("editor", "cancel jobs"))]
                   ) -> dict[str, Any]:
        return shown(request, job_store.cancel_job(state_of(request).workspace, job_id))

    return jobs
