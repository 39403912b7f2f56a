"""The prediction app: one FastAPI app serving one or more loaded models.

Routes: ``POST /v1/models/{name}/predict`` (trainforge's format), ``POST /invocations``
(MLflow's scoring format, JSON or CSV), ``GET /health`` and ``GET /metrics`` (Prometheus),
``/docs``.

The two prediction routes are plain ASGI handlers: FastAPI's request and response objects and
its dependency machinery cost about as much as the model (~0.4 ms a request on a 2-core
machine). Each body is checked by the model's pydantic request model and answered with orjson;
the same pydantic models are the schemas ``/docs`` shows, so what is documented is what is
checked.

A request is hostile until checked: its body is bounded in bytes as it is read, in values
before it is parsed and in records before any is validated. A light one (a record or a few)
is answered on the event loop, where the thread hop would cost more than the work; anything
heavier runs in a worker thread, at most ``HEAVY_SLOTS`` at once in the process, so ``/health``
and the other models keep answering while a big batch is checked.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.to_thread
import numpy as np
import orjson
from fastapi import FastAPI, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from trainforge.config import MAX_RECORDS
from trainforge.errors import (
    InvalidRequest,
    NotExplainable,
    TrainforgeError,
    UnsupportedContentType,
)
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.acting import add_policy_routes, split_policies
from trainforge.serving.docs import serve_docs
from trainforge.serving.explain import (
    ExplainQuery,
    ServedExplainer,
    answered_by_walk,
    check_explained,
    described,
    explain_query,
    refusal,
)
from trainforge.serving.metrics import CONTENT_TYPE, ServingMetrics
from trainforge.serving.mlflow_input import records_from_csv, records_from_mlflow
from trainforge.serving.network_explain import (
    NETWORK_UNITS,
    check_explained_count,
    explained_records,
)
from trainforge.serving.openapi import (
    CSV,
    JSON,
    METRICS_RESPONSES,
    MLFLOW_CONTENT_TYPES,
    PREDICT_ROUTE,
    documented,
)
from trainforge.serving.problems import invalid_request_answer
from trainforge.serving.recorder import REQUEST_ID_HEADER, PredictionRecorder, new_request_id
from trainforge.serving.served import ServedModel
from trainforge.serving.shadow import Shadow
from trainforge.serving.signature import (
    LIGHT_BODY_BYTES,
    Columns,
    RecordsInvalid,
    budget,
    is_light,
    parse_json,
)
from trainforge.serving.uploads import columns_from_form, is_multipart
from trainforge.version import __version__

log = logging.getLogger(__name__)

__all__ = ["PREDICT_ROUTE", "PredictHandler", "create_app", "not_served", "without_telemetry"]

MAX_BODY_BYTES = 64 * 1024 * 1024  # bigger batches belong in `trainforge predict` (predict_file)
# heavy requests checked and predicted at once, in the whole process: validation holds the
# interpreter, so more threads would only share it (and hold more bodies in memory)
HEAVY_SLOTS = 2
_HEAVY = anyio.CapacityLimiter(HEAVY_SLOTS)
_JSON_HEADER = (b"content-type", b"application/json")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=JSON)


def not_served(name: str, served: Mapping[str, ServedModel]) -> str:
    return (f"no model {name!r} is served here (serving: {', '.join(served) or 'none'}); "
            "check the model name in the URL")


class _Answer:
    """A response body and status, how many rows it predicted and the CPU time that took
    (for the metrics), and what it answered from (for the prediction log)."""

    __slots__ = ("body", "columns", "cpu_s", "n_predictions", "outputs", "status")

    def __init__(self, body: Any, status: int = 200, n_predictions: int = 0, *,
                 columns: Columns | None = None, outputs: np.ndarray | None = None) -> None:
        self.body, self.status, self.n_predictions = body, status, n_predictions
        self.columns, self.outputs = columns, outputs
        self.cpu_s = 0.0


def _mlflow_message(invalid: RecordsInvalid) -> str:
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors)
    return where + (f"; and {invalid.n_more:,} more errors" if invalid.n_more else "")


def _guarded(ref: str, work: Callable[[], _Answer], *, mlflow: bool) -> _Answer:
    """Run one request's work, timing the CPU it takes in the thread that runs it; any
    failure becomes an error answer, never a crash."""
    started = time.thread_time()
    answer = _answer_of(ref, work, mlflow=mlflow)
    answer.cpu_s = time.thread_time() - started
    return answer


def _answer_of(ref: str, work: Callable[[], _Answer], *, mlflow: bool) -> _Answer:
    try:
        return work()
    except RecordsInvalid as invalid:
        if mlflow:
            return _Answer({"error_code": "BAD_REQUEST", "message": _mlflow_message(invalid)},
                           400)
        body: dict[str, Any] = {"detail": invalid.errors}
        if invalid.n_more:
            body["more_errors"] = invalid.n_more
        return _Answer(body, 422)
    except TrainforgeError as error:
        if mlflow:
            status = error.http_status if error.http_status in (413, 415) else 400
            code = "BAD_REQUEST" if status == 400 else "INVALID_PARAMETER_VALUE"
            return _Answer({"error_code": code, "message": str(error)}, status)
        return _Answer({"detail": str(error)}, error.http_status)
    except Exception as error:
        log.exception("request to %s failed", ref)
        message = (f"internal error while predicting with {ref}: {type(error).__name__}; "
                   "the server log has the details")
        return _Answer({"error_code": "INTERNAL_ERROR", "message": message} if mlflow
                       else {"detail": message}, 500)


def _predict_answer(model: ServedModel, body: bytes, *, max_records: int) -> _Answer:
    columns = model.signature.parse_request(body, max_records=max_records)
    return _answer_with(model, columns)


def _answer_with(model: ServedModel, columns: Columns,
                 outputs: np.ndarray | None = None) -> _Answer:
    """The answer to ``columns``: from ``outputs`` where the caller has them (an explained
    blend's walk), else the model's scored outputs."""
    if outputs is None:
        outputs = model.scored_outputs(columns)
    return _Answer(model.body(columns, outputs), n_predictions=columns.n_rows,
                   columns=columns, outputs=outputs)


def _explained_answer(model: ServedModel, explainer: ServedExplainer, body: bytes, *,
                      max_records: int, query: ExplainQuery) -> _Answer:
    columns = model.signature.parse_request(body, max_records=max_records)
    return _explained_columns(model, explainer, columns, query)


def _explained_columns(model: ServedModel, explainer: ServedExplainer, columns: Columns,
                       query: ExplainQuery) -> _Answer:
    if explainer.network:  # a network's bound is checked before anything is computed
        check_explained_count(columns)
    # the blend walk's margins are the prediction too: then it is not predicted twice
    walked = None if explainer.network else explainer.walked(columns)
    if walked is not None and answered_by_walk(model, walked[1]):
        contributions, outputs = walked
        answer = _answer_with(model, columns, outputs)
    else:
        # predicted first: a record the model cannot score (a value near 1e308) is a 422
        # naming it, before any explanation of it is checked
        answer = _answer_with(model, columns)
        if explainer.network:
            answer.body["explanations"] = explained_records(
                model.loaded, columns, steps=query.steps, top_k=query.top_k)
            answer.body["explanation_units"] = NETWORK_UNITS
            return answer
        contributions = explainer.explain(columns) if walked is None else walked[0]
    assert answer.outputs is not None  # both answers keep them
    check_explained(contributions)
    answer.body["explanations"] = described(contributions, columns.values, answer.outputs,
                                            top_k=query.top_k, classify=model.classify)
    answer.body["explanation_units"] = contributions.units
    return answer


def _mlflow_answer(model: ServedModel, body: bytes, *, csv: bool, max_records: int) -> _Answer:
    signature = model.signature
    budget(body, max_records=max_records, n_features=len(signature.features))
    if csv:
        key, records = "csv", records_from_csv(body, max_records=max_records)
    else:
        try:
            payload = parse_json(body)
        except RecordsInvalid:
            raise InvalidRequest("the body is not valid JSON; send a JSON object such as "
                                 '{"dataframe_records": [{...}]}, or text/csv with a header '
                                 "row") from None
        key, records = records_from_mlflow(payload, max_records=max_records)
    columns = signature.parse_records(records, loc=(key,), max_records=max_records)
    outputs = model.scored_outputs(columns, loc=(key,))
    return _Answer({"predictions": model.predictions(outputs, columns)}, n_predictions=columns.n_rows,
                   columns=columns, outputs=outputs)


def _encoded(answer: _Answer, ref: str) -> tuple[int, bytes]:
    try:
        return answer.status, orjson.dumps(answer.body, default=str)
    except TypeError:  # a value orjson cannot write: a bug, but still a JSON answer
        log.exception("the answer of %s could not be encoded", ref)
        return 500, orjson.dumps({"detail": f"internal error while answering with {ref}; the "
                                            "server log has the details"})


class _BodyTooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_json(send: Send, status: int, payload: bytes, request_id: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON_HEADER, (b"content-length", str(len(payload)).encode()),
                            (REQUEST_ID_HEADER, request_id.encode())]})
    await send({"type": "http.response.body", "body": payload})


class _Logging:
    """Where one route hands its answered requests: the recorder, under a deployment name.
    Image columns are left out (their bytes are no input a monitor can compare); columns the
    model was trained to see hashed or masked (``--pii``) are logged as it sees them."""

    __slots__ = ("deployment", "images", "privacy", "recorder")

    def __init__(self, recorder: PredictionRecorder, *, deployment: str,
                 model: ServedModel) -> None:
        self.recorder, self.deployment = recorder, deployment
        self.images = frozenset(spec.name for spec in model.signature.features
                                if spec.dtype == "image")
        self.privacy = model.loaded.tabular.inputs

    def record(self, model: ServedModel, answer: _Answer, *, request_id: str,
               latency_s: float) -> None:
        """After the answer was sent: never raises, so a failing log fails no prediction."""
        columns, outputs = answer.columns, answer.outputs
        if answer.status != 200 or columns is None or outputs is None:
            return
        try:
            inputs: Mapping[str, Any] = columns.values
            if self.images:
                inputs = {k: v for k, v in inputs.items() if k not in self.images}
            if self.privacy is not None:
                inputs = self.privacy.apply_columns(inputs)
            self.recorder.record(
                deployment=self.deployment, model=model.loaded.name,
                version=model.loaded.version, request_id=request_id, inputs=inputs,
                outputs=model.logged(outputs, answer.body["predictions"]),
                n_rows=columns.n_rows, latency_s=latency_s)
        except Exception:
            log.exception("the prediction log refused a request to %s", model.ref)


_TOO_LARGE = (f"the request body is over {MAX_BODY_BYTES // 2**20} MiB; send fewer records per "
              "request, or predict a file with `trainforge predict MODEL FILE -o OUT`")

Work = Callable[[bytes], _Answer]


async def _answered(scope: Scope, receive: Receive, work: Work, *, light: Callable[[bytes], bool],
                    too_large: _Answer) -> _Answer:
    """Read the body and run ``work`` on it: a light body on the event loop, anything else in a
    worker thread, holding one of the process's ``HEAVY_SLOTS`` from before the body is read,
    so requests beyond them wait unread instead of piling up in memory."""
    declared = _declared_length(scope)
    if declared is not None and declared <= LIGHT_BODY_BYTES:
        try:
            body = await _read_body(receive)
        except _BodyTooLarge:
            return too_large
        if light(body):
            return work(body)
        async with _HEAVY:
            return await anyio.to_thread.run_sync(work, body)
    if declared is not None and declared > MAX_BODY_BYTES:
        return too_large
    async with _HEAVY:
        try:
            body = await _read_body(receive)
        except _BodyTooLarge:
            return too_large
        return await anyio.to_thread.run_sync(work, body)


class PredictHandler:
    """ASGI app for one served model's ``POST /v1/models/{name}/predict``.

    ``max_records``: the most records one request may hold (more is a 413 saying to split);
    ``recorder``: where each answered request is recorded (after it is sent), under
    ``deployment``, the name the model is served by (its registry name when not given);
    ``shadow``: the challenger each answered request is also handed to (after it is sent)."""

    def __init__(self, model: ServedModel, metrics: ServingMetrics, *,
                 max_records: int = MAX_RECORDS, recorder: PredictionRecorder | None = None,
                 deployment: str | None = None, shadow: Shadow | None = None) -> None:
        self.model, self.metrics, self.max_records = model, metrics, max_records
        self.shadow = shadow
        self._n_features = len(model.signature.features)
        self._explainer = ServedExplainer(model)  # builds nothing until asked to explain
        self._not_explainable = refusal(model.loaded)  # why explain=true is a 422, if it is
        self._logging = None if recorder is None else _Logging(
            recorder, deployment=deployment or model.loaded.name, model=model)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        model = self.model
        answer = await self._answer(scope, receive)
        if answer.status == 200:
            answer.body["request_id"] = request_id
        status, payload = _encoded(answer, model.ref)
        await _send_json(send, status, payload, request_id)
        latency_s = time.perf_counter() - started
        self.metrics.record(model.ref, PREDICT_ROUTE, status, latency_s,
                            n_predictions=answer.n_predictions, cpu_s=answer.cpu_s)
        if self._logging is not None:
            self._logging.record(model, answer, request_id=request_id, latency_s=latency_s)
        if self.shadow is not None and answer.status == 200 and answer.columns is not None:
            self.shadow.offer(answer.columns, request_id)

    async def _answer(self, scope: Scope, receive: Receive) -> _Answer:
        query = scope.get("query_string", b"")
        if query:  # most requests carry none: nothing to parse on the hot path
            try:
                explain = explain_query(query)
            except RecordsInvalid as invalid:
                return _guarded(self.model.ref, _refuse(invalid), mlflow=False)
            if explain is not None:
                return await self._explained(scope, receive, explain)
        if is_multipart(scope):
            return await self._uploaded(scope, receive, None)
        return await _answered(scope, receive, self._work, light=self._light,
                               too_large=_Answer({"detail": _TOO_LARGE}, 413))

    async def _explained(self, scope: Scope, receive: Receive,
                         explain: ExplainQuery) -> _Answer:
        """``?explain=true``: refused at once for a model that cannot be explained; else
        always in a worker thread (the first request builds the explainer)."""
        model, explainer, max_records = self.model, self._explainer, self.max_records
        why = self._not_explainable
        if why is not None:
            return _guarded(model.ref, _refuse(NotExplainable(model.ref, why)), mlflow=False)
        if is_multipart(scope):
            return await self._uploaded(scope, receive, explain)

        def work(body: bytes) -> _Answer:
            return _guarded(model.ref, lambda: _explained_answer(
                model, explainer, body, max_records=max_records, query=explain),
                mlflow=False)

        return await _answered(scope, receive, work, light=lambda body: False,
                               too_large=_Answer({"detail": _TOO_LARGE}, 413))

    def _light(self, body: bytes) -> bool:
        return is_light(body, n_features=self._n_features)

    def _work(self, body: bytes) -> _Answer:
        model, max_records = self.model, self.max_records
        return _guarded(model.ref, lambda: _predict_answer(model, body, max_records=max_records),
                        mlflow=False)

    async def _uploaded(self, scope: Scope, receive: Receive,
                        explain: ExplainQuery | None) -> _Answer:
        """Images uploaded as multipart files: one prediction (and explanation, when asked)
        per file."""
        model, explainer = self.model, self._explainer
        if (_declared_length(scope) or 0) > MAX_BODY_BYTES:
            return _Answer({"detail": _TOO_LARGE}, 413)
        try:
            columns = await columns_from_form(scope, receive, model.signature)
        except (TrainforgeError, RecordsInvalid) as error:
            failure = error

            def refuse() -> _Answer:
                raise failure

            return _guarded(model.ref, refuse, mlflow=False)
        async with _HEAVY:  # decoding and predicting images is heavy work
            return await anyio.to_thread.run_sync(lambda: _guarded(
                model.ref, lambda: _answer_with(model, columns) if explain is None
                else _explained_columns(model, explainer, columns, explain), mlflow=False))


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _content_type(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            return str(value.decode("latin-1").split(";")[0].strip().lower())
    return None


class _InvocationsHandler:
    """ASGI app for ``POST /invocations``: MLflow's scoring protocol, JSON or CSV. Its answer
    stays MLflow's: the request id is in the ``X-Request-Id`` header only."""

    def __init__(self, served: Mapping[str, ServedModel], metrics: ServingMetrics, *,
                 max_records: int, recorder: PredictionRecorder | None = None) -> None:
        self.served, self.metrics, self.max_records = served, metrics, max_records
        self._logging = {} if recorder is None else {
            name: _Logging(recorder, deployment=name, model=model)
            for name, model in served.items()}

    def _model(self, scope: Scope) -> tuple[str, ServedModel] | _Answer:
        """The served name and model ``?model=`` chooses, or the answer refusing it."""
        names = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("model")
        if names is None and len(self.served) == 1:
            return next(iter(self.served.items()))
        if names is None:
            return _Answer({"error_code": "BAD_REQUEST", "message": (
                f"this server serves {len(self.served)} models ({', '.join(self.served)}); "
                "choose one with /invocations?model=NAME")}, 400)
        if names[0] not in self.served:
            return _Answer({"error_code": "RESOURCE_DOES_NOT_EXIST",
                            "message": not_served(names[0], self.served)}, 404)
        return names[0], self.served[names[0]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        chosen = self._model(scope)
        if isinstance(chosen, _Answer):
            name, model, answer = "", None, chosen
        else:
            name, model = chosen
            answer = await self._predicted(scope, receive, model)
        ref = "" if model is None else model.ref
        status, payload = _encoded(answer, ref)
        await _send_json(send, status, payload, request_id)
        latency_s = time.perf_counter() - started
        self.metrics.record(ref, "/invocations", status, latency_s,
                            n_predictions=answer.n_predictions, cpu_s=answer.cpu_s)
        if model is not None and name in self._logging:
            self._logging[name].record(model, answer, request_id=request_id,
                                       latency_s=latency_s)

    async def _predicted(self, scope: Scope, receive: Receive, model: ServedModel) -> _Answer:
        content_type = _content_type(scope) or JSON  # as curl and requests send JSON
        if content_type not in MLFLOW_CONTENT_TYPES:
            return _guarded(model.ref, _refuse(UnsupportedContentType(MLFLOW_CONTENT_TYPES)),
                            mlflow=True)
        max_records = self.max_records
        n_features = len(model.signature.features)

        def work(body: bytes) -> _Answer:
            return _guarded(model.ref, lambda: _mlflow_answer(
                model, body, csv=content_type == CSV, max_records=max_records), mlflow=True)

        return await _answered(
            scope, receive, work, light=lambda body: is_light(body, n_features=n_features),
            too_large=_Answer({"error_code": "BAD_REQUEST", "message": _TOO_LARGE}, 413))


def _refuse(error: Exception) -> Callable[[], _Answer]:
    def refuse() -> _Answer:
        raise error
    return refuse


def without_telemetry() -> dict[str, Any]:
    # recent FastAPI checks for OpenTelemetry providers on every request (~40 µs); /metrics
    # is this app's telemetry, so switch that off where the option exists
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _recording(recorder: PredictionRecorder | None
               ) -> Callable[[FastAPI], Any] | None:
    """The app's lifespan when it records: the recorder starts with the app and is closed
    (what is queued written) when it stops, so a Ctrl-C loses no logged prediction."""
    if recorder is None:
        return None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recorder.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(recorder.close)  # writes files: off the loop

    return lifespan


def create_app(models: Mapping[str, LoadedModel], *, max_records: int = MAX_RECORDS,
               recorder: PredictionRecorder | None = None) -> FastAPI:
    """A FastAPI app serving ``models`` (URL name → loaded model); a request holding more than
    ``max_records`` records is refused (413) before it is validated. ``recorder`` (e.g. a
    ``PredictionLog``) records every answered prediction under the URL name; it is started
    and closed with the app.

    Example::

        app = create_app({"adult": loaded})
        # POST /v1/models/adult/predict  {"records": [{"age": 39, ...}]}
    """
    policies, tables = split_policies(models)  # a policy acts (/act); it has no table signature
    served = {name: ServedModel(loaded) for name, loaded in tables.items()}
    metrics = ServingMetrics()
    app = FastAPI(title="trainforge serving", version=__version__,
                  description="Predictions from " + ", ".join(m.ref for m in models.values()),
                  docs_url=None, redoc_url=None, lifespan=_recording(recorder),
                  **without_telemetry())
    app.add_exception_handler(RequestValidationError, invalid_request_answer)  # /act's bodies
    # first in the route list: the hot path should match at once
    hot = [Route(PREDICT_ROUTE.replace("{name}", name),
                 PredictHandler(model, metrics, max_records=max_records, recorder=recorder,
                                deployment=name), methods=["POST"])
           for name, model in served.items()]
    hot.append(Route("/invocations",
                     _InvocationsHandler(served, metrics, max_records=max_records,
                                         recorder=recorder),
                     methods=["POST"]))
    app.router.routes[:0] = hot
    add_policy_routes(app, policies, metrics)  # before predict_unknown: theirs answer 409

    @app.post(PREDICT_ROUTE, include_in_schema=False)
    async def predict_unknown(name: str) -> Response:
        metrics.record("", PREDICT_ROUTE, 404, 0.0)
        answer = _json({"detail": not_served(name, served)}, 404)
        answer.headers["X-Request-Id"] = new_request_id()
        return answer

    @app.get("/health", tags=["operations"])
    async def health() -> Response:
        return _json({"status": "ok", "models": [m.ref for m in models.values()]})

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse,
             responses=METRICS_RESPONSES)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(log=None if recorder is None else recorder.stats),
                        media_type=CONTENT_TYPE)

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = documented(build(), served, policies=list(policies),
                                            max_records=max_records)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    serve_docs(app)
    return app
