"""``GET /health`` and ``GET /ready``: what a load balancer or an orchestrator watches.

Neither needs a token, and neither says more than it must: ``/health`` answers
``{"status": "ok"}`` while the process answers at all (liveness); ``/ready`` answers 200 when
the store answers and the jobs have someone to run them (the worker supervisor is alive, or,
with workers run elsewhere, no running job has gone silent), else 503 with a short reason.
"""

from __future__ import annotations

import logging
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from trainforge.errors import TrainforgeError
from trainforge.server.auth import state_of
from trainforge.store import jobs as job_store

log = logging.getLogger(__name__)


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    reason: str | None = None  # why not, in a few words; nothing about the machine


def _unavailable(reason: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)


def router() -> APIRouter:
    routes = APIRouter(tags=["operations"])

    @routes.get("/health", summary="Liveness: the process answers (no token needed)",
                response_model=Health)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # sync: the store query runs in the thread pool, never on the event loop
    @routes.get("/ready", summary="Readiness: the store answers and jobs have workers (no "
                "token needed); 503 with a short reason otherwise", response_model=Readiness,
                responses={503: {"model": Readiness, "description": "not ready, and why"}})
    def ready(request: Request) -> dict[str, str | None] | JSONResponse:
        state = state_of(request)
        try:
            silent = job_store.count_silent(state.workspace,
                                            stale_after_s=state.config.stale_after_s)
        except (sa.exc.SQLAlchemyError, TrainforgeError):
            log.warning("readiness: the store does not answer", exc_info=True)  # not the client
            return _unavailable("the store does not answer")
        supervisor = state.supervisor
        if supervisor is not None and not supervisor.alive():
            return _unavailable("the job workers are not running")
        if supervisor is None and silent:
            return _unavailable(f"{silent} running job(s) stopped sending heartbeats")
        return {"status": "ready", "reason": None}

    return routes
