"""Deployed models: the server's prediction router and what it serves.

``POST /v1/models/{name}/predict`` on the platform answers exactly as ``trainforge serve``
does: the router finds the deployed model by its URL name and hands the request to serving's
own ``PredictHandler``. Deploying loads the package (every file checked against its hash) and
swaps the handler in with one dictionary assignment, so requests in flight finish on the old
version and the server never restarts.

The store is the truth: every server process over one workspace follows its deployment rows
(``Deployments.sync``, at start and then every ``SYNC_EVERY_S`` from a background thread), so
a deploy, undeploy or forced model deletion made through one process reaches all of them
within a second, and a deleted model stops answering everywhere.

The hot path is one cached token check and one dict lookup: no store query, no store write.
Each process logs the predictions it answers into its one ``PredictionLog`` (after answering),
with each deployment's log policy, which the follower applies as it reads the rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from trainforge.config import MAX_RECORDS
from trainforge.errors import AccessError, DeploymentNotFound, TrainforgeError
from trainforge.monitoring.prediction_log import LogPolicy, PredictionLog
from trainforge.registry.refs import check_name
from trainforge.server.auth import identify
from trainforge.serving.app import PREDICT_ROUTE, PredictHandler, not_served
from trainforge.serving.metrics import ServingMetrics
from trainforge.serving.served import ServedModel
from trainforge.store import deployments as records
from trainforge.workspace import Workspace

log = logging.getLogger(__name__)

SYNC_EVERY_S = 0.5  # how often each process reads the deployment rows: changes land within 1 s

__all__ = ["PREDICT_ROUTE", "Deployments", "PredictionRouter", "document_predictions"]


async def _send_json(send: Send, status: int, body: Any, *,
                     headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    payload = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


class PredictionRouter:
    """ASGI app for ``/v1/models/{name}/predict``: any valid token (a viewer is enough)."""

    def __init__(self, *, max_records: int = MAX_RECORDS,
                 log: PredictionLog | None = None) -> None:
        self.metrics = ServingMetrics()
        self.max_records = max_records
        self.log = log  # where every answered prediction is recorded
        # replaced whole, never changed in place: a reader always sees one consistent mapping
        self._handlers: Mapping[str, PredictHandler] = {}

    @property
    def served(self) -> dict[str, ServedModel]:
        return {name: handler.model for name, handler in self._handlers.items()}

    def swap(self, name: str, model: ServedModel | None) -> None:
        """Serve ``model`` under ``name`` from the next request on (None: stop serving it)."""
        handlers = dict(self._handlers)
        if model is None:
            handlers.pop(name, None)
        else:
            handlers[name] = PredictHandler(model, self.metrics, max_records=self.max_records,
                                            recorder=self.log, deployment=name)
        self._handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await identify(Request(scope, receive))
        except AccessError as refused:
            challenge = ((b"www-authenticate", b"Bearer"),) if refused.http_status == 401 else ()
            await _send_json(send, refused.http_status, {"detail": str(refused)},
                             headers=challenge)
            return
        name = scope["path_params"]["name"]
        handler = self._handlers.get(name)
        if handler is None:
            await _send_json(send, 404, {"detail": not_served(name, self.served)})
            return
        await handler(scope, receive, send)


def _policy(row: Mapping[str, Any]) -> LogPolicy:
    """The row's log policy; a row without one (deployed before policies) logs everything."""
    stored = row.get("log_policy")
    return LogPolicy() if stored is None else LogPolicy.from_dict(stored)


def _key(row: Mapping[str, Any]) -> tuple[str, int, Any]:
    """What a deployment row serves, and when it was written (a redeploy is a change too)."""
    return row["model_name"], row["model_version"], row["created_at"]


class Deployments:
    """Deploy, undeploy and list: the store's records and the router, kept in step."""

    def __init__(self, workspace: Workspace, router: PredictionRouter) -> None:
        self.workspace, self.router = workspace, router
        self.problems: dict[str, str] = {}  # name → why its version could not be loaded
        self._changing = threading.Lock()
        self._applied: dict[str, tuple[str, int, Any]] = {}  # name → the row it follows
        self._generation = 0  # bumped by every change of what is served
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    def deploy(self, requested: str, *, name: str | None = None,
               deployed_by: str | None = None,
               log_policy: LogPolicy | None = None) -> dict[str, Any]:
        """Serve the version ``requested`` (NAME, NAME:VERSION or NAME@ALIAS) points at now,
        under ``name`` (the model's name by default), replacing what that name served;
        ``log_policy``: what of its predictions is logged (all when not given), refused
        (ConfigError) when it names a column the model does not take."""
        registry = self.workspace.registry
        model_name, version = registry.resolve(requested)
        url_name = check_name(name or model_name)
        served = ServedModel(registry.load(f"{model_name}:{version}"))  # hash-checked
        if log_policy is not None:
            log_policy.check_columns(served.signature.names)
        with self._changing:
            row = records.save_deployment(
                self.workspace, name=url_name, model_name=model_name, model_version=version,
                requested=requested, deployed_by=deployed_by,
                log_policy=None if log_policy is None else log_policy.to_dict())
            self._apply_policy(url_name, log_policy or LogPolicy())
            self.router.swap(url_name, served)
            self._applied[url_name] = _key(row)
            self._generation += 1
            self.problems.pop(url_name, None)
        log.info("deployed %s at %s", served.ref, PREDICT_ROUTE.replace("{name}", url_name))
        return self._shown(row)

    def undeploy(self, name: str) -> dict[str, Any]:
        """Stop serving ``name``; DeploymentNotFound when nothing is deployed under it."""
        with self._changing:
            found = {row["name"]: row for row in records.list_deployments(self.workspace)}
            if name not in found and name not in self.router.served:
                raise DeploymentNotFound(name, sorted(found))
            records.remove_deployment(self.workspace, name)
            self.router.swap(name, None)
            self._applied.pop(name, None)
            self._generation += 1
            self.problems.pop(name, None)
        return {**self._shown(found[name]), "live": False} if name in found else {"name": name}

    def listing(self) -> list[dict[str, Any]]:
        return [self._shown(row) for row in records.list_deployments(self.workspace)]

    def sync(self) -> None:
        """Serve what the store's deployment rows say, whichever process wrote them: load
        the versions new or changed since the last sync, drop the names no longer recorded.
        A version that fails to load is logged and listed with its problem (and not served:
        answering with the version the row replaced would be wrong); it is tried again when
        its row changes or the server restarts.

        Packages load outside the lock, so an undeploy (or the UI's) never waits on a load;
        a change made here meanwhile bumps ``_generation``, and this round then stands down
        (the next one reads the rows again) rather than undo it with older rows."""
        with self._changing:
            generation = self._generation
        rows = {row["name"]: row for row in records.list_deployments(self.workspace)}
        for name, row in rows.items():  # a policy changes without a reload
            self._apply_policy(name, _policy(row))
        wanted = {name: _key(row) for name, row in rows.items()}
        with self._changing:
            changed = {name: row for name, row in rows.items()
                       if self._applied.get(name) != wanted[name]}
            if not changed and set(self._applied) == set(wanted):
                return
        loaded = {name: self._load(row) for name, row in changed.items()}
        with self._changing:
            if self._generation != generation:
                return
            self._generation += 1
            for name in set(self._applied) - set(wanted):
                self.router.swap(name, None)
                self._applied.pop(name)
                self.problems.pop(name, None)
                log.info("deployment %r was removed from the store; not serving it", name)
            for name, served in loaded.items():
                self._applied[name] = wanted[name]
                self.router.swap(name, served if isinstance(served, ServedModel) else None)
                if isinstance(served, ServedModel):
                    self.problems.pop(name, None)
                else:
                    self.problems[name] = served

    def _apply_policy(self, name: str, policy: LogPolicy) -> None:
        log = self.router.log
        if log is not None and log.policy(name) != policy:
            log.set_policy(name, policy)

    def _load(self, row: Mapping[str, Any]) -> ServedModel | str:
        """The row's version, loaded and hash-checked; or why it could not be."""
        ref = f"{row['model_name']}:{row['model_version']}"
        try:
            return ServedModel(self.workspace.registry.load(ref))
        except TrainforgeError as error:
            log.warning("deployment %r (%s) could not be loaded: %s", row["name"], ref, error)
            return str(error)

    def follow(self, *, every_s: float = SYNC_EVERY_S) -> None:
        """Keep in step with the store from a background thread (never the event loop)
        until ``stop_following``."""
        self._stop.clear()
        self._follower = threading.Thread(target=self._follow, args=(every_s,),
                                          name="deployments-sync", daemon=True)
        self._follower.start()

    def stop_following(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join()
            self._follower = None

    def _follow(self, every_s: float) -> None:
        failing = False
        while not self._stop.wait(every_s):
            try:
                self.sync()
                failing = False
            except Exception:  # the store busy or away: serve what we have, try again
                if not failing:
                    log.warning("reading the deployments from the store failed; retrying "
                                "every %.1f s", every_s, exc_info=True)
                failing = True

    def _shown(self, row: Mapping[str, Any]) -> dict[str, Any]:
        name = row["name"]
        return {"name": name, "model": row["model_name"], "version": row["model_version"],
                "ref": f"{row['model_name']}:{row['model_version']}",
                "requested": row["requested"], "deployed_by": row["deployed_by"],
                "created_at": row["created_at"],
                "url": PREDICT_ROUTE.replace("{name}", name), "log": _policy(row).to_dict(),
                "live": name in self.router.served, "problem": self.problems.get(name)}


_PREDICT_DOC = {"post": {
    "tags": ["predict"], "summary": "Predict with a deployed model (a viewer token is enough)",
    "operationId": "predict_deployed",
    "description": "The same request and answer as `trainforge serve`: `{\"records\": [{...}]}` "
                   "in; `model`, `predictions` (and `probabilities` for a classifier) out. "
                   "`GET /api/v1/deployments` lists the names; each model's own request schema "
                   "is in `trainforge serve NAME`'s /docs.",
    "parameters": [{"name": "name", "in": "path", "required": True,
                    "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"records": {"type": "array", "items": {
            "type": "object"}}}}}}},
    "responses": {"200": {"description": "Predictions, and the request's `request_id` (also "
                                         "in the X-Request-Id header)"},
                  "401": {"description": "no valid token"},
                  "403": {"description": "a browser session's request without its CSRF token"},
                  "404": {"description": "nothing deployed under that name"},
                  "413": {"description": "the body is over the serving size limit"},
                  "422": {"description": "a field missing or of the wrong type"}}}}


def document_predictions(app: FastAPI) -> None:
    """Add the prediction route (plain ASGI, which FastAPI does not see) to ``/openapi.json``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema["paths"][PREDICT_ROUTE] = _PREDICT_DOC
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
