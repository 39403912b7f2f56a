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
from trainforge.errors import (
    AccessError,
    DeploymentNotFound,
    NoPreviousVersion,
    NoShadow,
    NotAllowed,
    ShadowSignatureMismatch,
    TrainforgeError,
)
from trainforge.monitoring.compare import PromotionRule, compare_deployment, shadow_log_root
from trainforge.monitoring.prediction_log import LogPolicy, PredictionLog
from trainforge.registry.refs import check_name
from trainforge.server.auth import identify
from trainforge.serving.app import PREDICT_ROUTE, PredictHandler, not_served
from trainforge.serving.explain import EXPLAIN_PARAMETERS, STEPS_PARAMETER
from trainforge.serving.metrics import ServingMetrics
from trainforge.serving.served import ServedModel
from trainforge.serving.shadow import Shadow, ShadowFeed
from trainforge.store import deployments as records
from trainforge.workspace import Workspace

log = logging.getLogger(__name__)

SYNC_EVERY_S = 0.5  # how often each process reads the deployment rows: changes land within 1 s

AUTO_PROMOTION = "auto-promotion"  # who the history names for a promotion by the rule

__all__ = ["PREDICT_ROUTE", "Deployments", "PredictionRouter", "document_predictions",
           "promote_when_due"]


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
                 log: PredictionLog | None = None, shadows: ShadowFeed | None = None) -> None:
        self.metrics = ServingMetrics()
        self.max_records = max_records
        self.log = log  # where every answered prediction is recorded
        self.shadows = shadows  # where the shadows' copies of the traffic are predicted
        # replaced whole, never changed in place: a reader always sees one consistent mapping
        self._handlers: Mapping[str, PredictHandler] = {}

    @property
    def served(self) -> dict[str, ServedModel]:
        return {name: handler.model for name, handler in self._handlers.items()}

    @property
    def shadowed(self) -> dict[str, ServedModel]:
        return {name: handler.shadow.model for name, handler in self._handlers.items()
                if handler.shadow is not None}

    def swap(self, name: str, model: ServedModel | None, *,
             shadow: ServedModel | None = None) -> None:
        """Serve ``model`` under ``name`` from the next request on (None: stop serving it),
        with ``shadow`` answering a copy of its requests (logged, never returned)."""
        handlers = dict(self._handlers)
        if model is None:
            handlers.pop(name, None)
        else:
            fed = (None if shadow is None or self.shadows is None
                   else Shadow(name, shadow, self.shadows))
            handlers[name] = PredictHandler(model, self.metrics, max_records=self.max_records,
                                            recorder=self.log, deployment=name, shadow=fed)
        self._handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            who = await identify(Request(scope, receive))
            if not who.may("viewer"):  # a federation's client token predicts nothing
                raise NotAllowed(who.role, "viewer", "ask deployed models for predictions")
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


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a deployment row serves and shadows, and when it was written (a redeploy is a
    change too)."""
    return (row["model_name"], row["model_version"], row.get("shadow_model"),
            row.get("shadow_version"), row["created_at"])


def _shadow_of(row: Mapping[str, Any]) -> tuple[str, int] | None:
    model, version = row.get("shadow_model"), row.get("shadow_version")
    return None if model is None or version is None else (model, version)


def check_shadow(champion: ServedModel, shadow: ServedModel) -> None:
    """ShadowSignatureMismatch unless ``shadow`` takes exactly the inputs ``champion`` takes
    (same names, same types): it is fed the requests the champion checked."""
    ours = {spec.name: spec.dtype for spec in champion.signature.features}
    theirs = {spec.name: spec.dtype for spec in shadow.signature.features}
    missing = sorted(set(ours) - set(theirs))
    extra = sorted(set(theirs) - set(ours))
    retyped = sorted(f"{name} ({ours[name]} vs {theirs[name]})"
                     for name in set(ours) & set(theirs) if ours[name] != theirs[name])
    if missing or extra or retyped:
        raise ShadowSignatureMismatch(shadow.ref, champion.ref, missing=missing, extra=extra,
                                      retyped=retyped)


class Deployments:
    """Deploy, undeploy, shadow, promote, roll back and list: the store's records and the
    router, kept in step. Every change is recorded in the deployment's history."""

    def __init__(self, workspace: Workspace, router: PredictionRouter) -> None:
        self.workspace, self.router = workspace, router
        if router.shadows is None:
            router.shadows = ShadowFeed(PredictionLog(shadow_log_root(workspace.prediction_log)))
        self.problems: dict[str, str] = {}  # name → why its version could not be loaded
        self._changing = threading.Lock()
        self._applied: dict[str, tuple[Any, ...]] = {}  # name → the row it follows
        self._generation = 0  # bumped by every change of what is served
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    def deploy(self, requested: str, *, name: str | None = None,
               deployed_by: str | None = None, log_policy: LogPolicy | None = None,
               shadow: str | None = None, reason: str | None = None) -> dict[str, Any]:
        """Serve the version ``requested`` (NAME, NAME:VERSION or NAME@ALIAS) points at now,
        under ``name`` (the model's name by default), replacing what that name served;
        ``log_policy``: what of its predictions is logged (all when not given), refused
        (ConfigError) when it names a column the model does not take; ``shadow``: a version
        answering a copy of its traffic (ShadowSignatureMismatch unless it takes the same
        inputs)."""
        registry = self.workspace.registry
        model_name, version = registry.resolve(requested)
        url_name = check_name(name or model_name)
        served = ServedModel(registry.load(f"{model_name}:{version}"))  # hash-checked
        if log_policy is not None:
            log_policy.check_columns(served.signature.names)
        shadowing = None if shadow is None else self._loaded_shadow(served, shadow)
        with self._changing:
            row = records.save_deployment(
                self.workspace, name=url_name, model_name=model_name, model_version=version,
                requested=requested, deployed_by=deployed_by,
                log_policy=None if log_policy is None else log_policy.to_dict(),
                shadow=None if shadowing is None else shadowing[0], reason=reason)
            self._serve(url_name, row, served, None if shadowing is None else shadowing[1])
        log.info("deployed %s at %s", served.ref, PREDICT_ROUTE.replace("{name}", url_name))
        return self._shown(row)

    def set_shadow(self, name: str, requested: str | None, *, by: str | None = None,
                   reason: str | None = None) -> dict[str, Any]:
        """Put the version ``requested`` in shadow of deployment ``name`` (None: take its
        shadow away)."""
        row = self._record(name)
        champion = self.router.served.get(name) or self._champion(row)
        shadowing = None if requested is None else self._loaded_shadow(champion, requested)
        with self._changing:
            changed = records.set_shadow(self.workspace, name,
                                         shadow=None if shadowing is None else shadowing[0],
                                         by=by, reason=reason)
            if changed is None:
                raise DeploymentNotFound(name, self._names())
            self._serve(name, changed, champion, None if shadowing is None else shadowing[1])
        return self._shown(changed)

    def promote(self, name: str, *, by: str | None = None,
                reason: str | None = None) -> dict[str, Any]:
        """Make deployment ``name``'s shadow its champion (the old champion stays in its
        history, for a rollback); NoShadow when it has none."""
        row = self._record(name)
        shadow = _shadow_of(row)
        if shadow is None:
            raise NoShadow(name)
        served = self.router.shadowed.get(name) or ServedModel(
            self.workspace.registry.load(f"{shadow[0]}:{shadow[1]}"))
        return self._replace(row, served, action="promote", by=by, reason=reason, shadow=None)

    def rollback(self, name: str, *, by: str | None = None,
                 reason: str | None = None) -> dict[str, Any]:
        """Serve the version deployment ``name`` served before its current one, at once;
        NoPreviousVersion when its history has none. Its shadow stays if it fits."""
        row = self._record(name)
        previous = records.previous_version(self.workspace, name)
        if previous is None:
            raise NoPreviousVersion(name, f"{row['model_name']}:{row['model_version']}")
        served = ServedModel(self.workspace.registry.load(f"{previous[0]}:{previous[1]}"))
        shadowing = self.router.shadowed.get(name)
        try:
            if shadowing is not None:
                check_shadow(served, shadowing)
        except ShadowSignatureMismatch:
            shadowing = None  # the old version takes other inputs: its shadow cannot follow
        return self._replace(row, served, action="rollback", by=by, reason=reason,
                             shadow=shadowing)

    def set_promotion_rule(self, name: str, rule: PromotionRule | None) -> dict[str, Any]:
        """Promote deployment ``name``'s shadow by itself when ``rule`` holds (None: only by
        hand); the server's policy checker judges it every period."""
        changed = records.set_promotion_rule(self.workspace, name,
                                             None if rule is None else rule.to_dict())
        if changed is None:
            raise DeploymentNotFound(name, self._names())
        return self._shown(changed)

    def history(self, name: str) -> list[records.DeploymentEvent]:
        """Deployment ``name``'s changes, newest first (also after it was undeployed)."""
        events = records.list_events(self.workspace, name)
        if not events and records.get_deployment(self.workspace, name) is None:
            raise DeploymentNotFound(name, self._names())
        return events

    def promote_when_due(self) -> list[str]:
        """Promote each shadow whose deployment's rule holds now; the names promoted."""
        promoted = []
        for row in records.list_deployments(self.workspace):
            if row["promotion_rule"] is None or _shadow_of(row) is None:
                continue
            rule = PromotionRule.from_dict(row["promotion_rule"])
            comparison = compare_deployment(
                row["name"], store=self.workspace, registry=self.workspace.registry,
                log_root=self.workspace.prediction_log, min_labels=rule.min_labels)
            if rule.holds(comparison):
                self.promote(row["name"], by=AUTO_PROMOTION,
                             reason=f"rule {rule.to_dict()} held: {comparison.verdict}")
                promoted.append(row["name"])
        return promoted

    def undeploy(self, name: str, *, by: str | None = None) -> dict[str, Any]:
        """Stop serving ``name``; DeploymentNotFound when nothing is deployed under it."""
        with self._changing:
            found = {row["name"]: row for row in records.list_deployments(self.workspace)}
            if name not in found and name not in self.router.served:
                raise DeploymentNotFound(name, sorted(found))
            records.remove_deployment(self.workspace, name, by=by)
            self.router.swap(name, None)
            self._applied.pop(name, None)
            self._generation += 1
            self.problems.pop(name, None)
        return {**self._shown(found[name]), "live": False} if name in found else {"name": name}

    def listing(self) -> list[dict[str, Any]]:
        return [self._shown(row) for row in records.list_deployments(self.workspace)]

    def _record(self, name: str) -> records.DeploymentRecord:
        row = records.get_deployment(self.workspace, name)
        if row is None:
            raise DeploymentNotFound(name, self._names())
        return row

    def _names(self) -> list[str]:
        return [row["name"] for row in records.list_deployments(self.workspace)]

    def _champion(self, row: Mapping[str, Any]) -> ServedModel:
        return ServedModel(self.workspace.registry.load(
            f"{row['model_name']}:{row['model_version']}"))

    def _loaded_shadow(self, champion: ServedModel, requested: str
                       ) -> tuple[tuple[str, int], ServedModel]:
        registry = self.workspace.registry
        model_name, version = registry.resolve(requested)
        shadow = ServedModel(registry.load(f"{model_name}:{version}"))  # hash-checked
        check_shadow(champion, shadow)
        return (model_name, version), shadow

    def _replace(self, row: records.DeploymentRecord, served: ServedModel, *,
                 action: records.Action, by: str | None, reason: str | None,
                 shadow: ServedModel | None) -> dict[str, Any]:
        """Serve ``served`` under ``row``'s name (``action``: a promotion or rollback)."""
        loaded = served.loaded
        kept = None if shadow is None else (shadow.loaded.name, shadow.loaded.version)
        with self._changing:
            changed = records.save_deployment(
                self.workspace, name=row["name"], model_name=loaded.name,
                model_version=loaded.version, requested=f"{loaded.name}:{loaded.version}",
                deployed_by=by, log_policy=row["log_policy"], shadow=kept, action=action,
                reason=reason)
            self._serve(row["name"], changed, served, shadow)
        log.info("%s: deployment %r serves %s", action, row["name"], served.ref)
        return self._shown(changed)

    def _serve(self, name: str, row: records.DeploymentRecord, served: ServedModel,
               shadow: ServedModel | None) -> None:
        """Under the lock: serve what ``row`` records, as loaded."""
        self._apply_policy(name, _policy(row))
        self.router.swap(name, served, shadow=shadow)
        self._applied[name] = _key(row)
        self._generation += 1
        self.problems.pop(name, None)

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
            for name, (served, shadow) in loaded.items():
                self._applied[name] = wanted[name]
                self.router.swap(name, served if isinstance(served, ServedModel) else None,
                                 shadow=shadow)
                if isinstance(served, ServedModel):
                    self.problems.pop(name, None)
                else:
                    self.problems[name] = served

    def _apply_policy(self, name: str, policy: LogPolicy) -> None:
        log = self.router.log
        if log is not None and log.policy(name) != policy:
            log.set_policy(name, policy)
        # the shadow's log holds outputs only, paired with the champion's rows by request id:
        # all of them, or none when the deployment logs nothing
        shadow_log = self.router.shadows.recorder if self.router.shadows is not None else None
        if isinstance(shadow_log, PredictionLog):
            wanted = LogPolicy("none") if policy.mode == "none" else LogPolicy()
            if shadow_log.policy(name) != wanted:
                shadow_log.set_policy(name, wanted)

    def _load(self, row: Mapping[str, Any]) -> tuple[ServedModel | str, ServedModel | None]:
        """The row's version, loaded and hash-checked, or why it could not be; and its
        shadow, or None (a shadow that fails to load is logged: the champion serves alone)."""
        ref = f"{row['model_name']}:{row['model_version']}"
        try:
            champion = ServedModel(self.workspace.registry.load(ref))
        except TrainforgeError as error:
            log.warning("deployment %r (%s) could not be loaded: %s", row["name"], ref, error)
            return str(error), None
        shadow = _shadow_of(row)
        if shadow is None:
            return champion, None
        try:
            shadowing = ServedModel(self.workspace.registry.load(f"{shadow[0]}:{shadow[1]}"))
            check_shadow(champion, shadowing)
        except TrainforgeError as error:
            log.warning("the shadow %s:%s of deployment %r could not be loaded: %s; serving "
                        "without it", *shadow, row["name"], error)
            return champion, None
        return champion, shadowing

    def follow(self, *, every_s: float = SYNC_EVERY_S) -> None:
        """Keep in step with the store from a background thread (never the event loop)
        until ``stop_following``."""
        self._stop.clear()
        self._follower = threading.Thread(target=self._follow, args=(every_s,),
                                          name="deployments-sync", daemon=True)
        self._follower.start()

    def stop_following(self) -> None:
        """Stop following the store, and predict the shadows' queued requests."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join()
            self._follower = None
        if self.router.shadows is not None:
            self.router.shadows.close()

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
                "live": name in self.router.served, "problem": self.problems.get(name),
                "shadow": None if row.get("shadow_model") is None
                else f"{row['shadow_model']}:{row['shadow_version']}",
                "promotion_rule": row.get("promotion_rule")}


def promote_when_due(workspace: Workspace) -> list[str]:
    """Promote each shadow whose deployment's promotion rule holds now, through the store
    (every server process follows within a second); the names promoted."""
    return Deployments(workspace, PredictionRouter()).promote_when_due()


_PREDICT_DOC = {"post": {
    "tags": ["predict"], "summary": "Predict with a deployed model (a viewer token is enough)",
    "operationId": "predict_deployed",
    "description": "The same request and answer as `trainforge serve`: `{\"records\": [{...}]}` "
                   "in; `model`, `predictions` (and `probabilities` for a classifier) out; "
                   "with `?explain=true`, `explanations` too (each record's top contributions; "
                   "an image or text network: which image regions or words). "
                   "`GET /api/v1/deployments` lists the names; each model's own request schema "
                   "is in `trainforge serve NAME`'s /docs.",
    "parameters": [{"name": "name", "in": "path", "required": True,
                    "schema": {"type": "string"}}, *EXPLAIN_PARAMETERS, STEPS_PARAMETER],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"records": {"type": "array", "items": {
            "type": "object"}}}}}}},
    "responses": {"200": {"description": "Predictions, and the request's `request_id` (also "
                                         "in the X-Request-Id header)"},
                  "401": {"description": "no valid token"},
                  "403": {"description": "a browser session's request without its CSRF token"},
                  "404": {"description": "nothing deployed under that name"},
                  "413": {"description": "the body is over the serving size limit"},
                  "422": {"description": "a field missing or of the wrong type; or, with "
                                         "explain=true, a model that cannot be explained"}}}}


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
