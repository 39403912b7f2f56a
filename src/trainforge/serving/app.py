"""The prediction app: one FastAPI app serving one or more loaded models.

Routes: ``POST /v1/models/{name}/predict`` (trainforge's format), ``POST /invocations``
(MLflow's scoring format), ``GET /health`` and ``GET /metrics`` (Prometheus), ``/docs``.

The two prediction routes are plain ASGI handlers: FastAPI's request and response objects and
its dependency machinery cost about as much as the model (~0.4 ms a request on a 2-core
machine). Each body is checked by the model's pydantic request model straight from the raw
bytes and answered with orjson; the same pydantic models are the schemas ``/docs`` shows, so
what is documented is what is checked.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import FastAPI, Response
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, create_model
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from trainforge import __version__
from trainforge.data.task import TaskKind
from trainforge.errors import InvalidRequest, TrainforgeError
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.acting import add_policy_routes, split_policies
from trainforge.serving.metrics import CONTENT_TYPE, ServingMetrics
from trainforge.serving.mlflow_input import FORMATS, records_from_mlflow
from trainforge.serving.served import ServedModel
from trainforge.serving.signature import RecordsInvalid
from trainforge.serving.uploads import columns_from_form, is_multipart

log = logging.getLogger(__name__)

JSON = "application/json"
PREDICT_ROUTE = "/v1/models/{name}/predict"
MAX_BODY_BYTES = 64 * 1024 * 1024  # bigger batches belong in `trainforge predict` (predict_file)
_JSON_HEADER = (b"content-type", b"application/json")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=JSON)


def not_served(name: str, served: Mapping[str, ServedModel]) -> str:
    return (f"no model {name!r} is served here (serving: {', '.join(served) or 'none'}); "
            "check the model name in the URL")


class _Answer:
    """A response body and status, and how many rows it predicted (for the metrics)."""

    __slots__ = ("body", "n_predictions", "status")

    def __init__(self, body: Any, status: int = 200, n_predictions: int = 0) -> None:
        self.body, self.status, self.n_predictions = body, status, n_predictions


def _guarded(ref: str, work: Callable[[], _Answer], *, mlflow: bool) -> _Answer:
    """Run one request's work; any failure becomes an error answer, never a crash."""
    try:
        return work()
    except RecordsInvalid as invalid:
        if mlflow:
            where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                              for e in invalid.errors[:10])
            return _Answer({"error_code": "BAD_REQUEST", "message": where}, 400)
        return _Answer({"detail": invalid.errors}, 422)
    except TrainforgeError as error:
        if mlflow:
            return _Answer({"error_code": "BAD_REQUEST", "message": str(error)}, 400)
        return _Answer({"detail": str(error)}, error.http_status)
    except Exception as error:
        log.exception("request to %s failed", ref)
        message = (f"internal error while predicting with {ref}: {type(error).__name__}; "
                   "the server log has the details")
        return _Answer({"error_code": "INTERNAL_ERROR", "message": message} if mlflow
                       else {"detail": message}, 500)


def _predict_answer(model: ServedModel, body: bytes) -> _Answer:
    columns = model.signature.parse_request(body)
    return _Answer(model.answer(columns), n_predictions=columns.n_rows)


def _mlflow_answer(model: ServedModel, body: bytes) -> _Answer:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON ({error}); send a JSON object such "
                             'as {"dataframe_records": [{...}]}') from None
    key, records = records_from_mlflow(payload)
    columns = model.signature.parse_records(records, loc=(key,))
    outputs = model.outputs(columns)
    return _Answer({"predictions": model.predictions(outputs)}, n_predictions=columns.n_rows)


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


async def _send_json(send: Send, status: int, payload: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON_HEADER, (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


_TOO_LARGE = (f"the request body is over {MAX_BODY_BYTES // 2**20} MiB; send fewer records per "
              "request, or predict a file with `trainforge predict MODEL FILE -o OUT`")


class PredictHandler:
    """ASGI app for one served model's ``POST /v1/models/{name}/predict``."""

    def __init__(self, model: ServedModel, metrics: ServingMetrics) -> None:
        self.model, self.metrics = model, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        model = self.model
        if is_multipart(scope):
            answer = await self._uploaded(scope, receive)
        else:
            try:
                body = await _read_body(receive)
            except _BodyTooLarge:
                answer = _Answer({"detail": _TOO_LARGE}, 413)
            else:
                answer = _guarded(model.ref, lambda: _predict_answer(model, body), mlflow=False)
        await _send_json(send, answer.status, orjson.dumps(answer.body, default=str))
        self.metrics.record(model.ref, PREDICT_ROUTE, answer.status,
                            time.perf_counter() - started, n_predictions=answer.n_predictions)


    async def _uploaded(self, scope: Scope, receive: Receive) -> _Answer:
        """Images uploaded as multipart files: one prediction per file."""
        model = self.model
        if _declared_length(scope) > MAX_BODY_BYTES:
            return _Answer({"detail": _TOO_LARGE}, 413)
        try:
            columns = await columns_from_form(scope, receive, model.signature)
        except (TrainforgeError, RecordsInvalid) as error:
            failure = error

            def refuse() -> _Answer:
                raise failure

            return _guarded(model.ref, refuse, mlflow=False)
        return _guarded(model.ref, lambda: _Answer(model.answer(columns),
                                                   n_predictions=columns.n_rows), mlflow=False)


def _declared_length(scope: Scope) -> int:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class _InvocationsHandler:
    """ASGI app for ``POST /invocations``: MLflow's scoring protocol."""

    def __init__(self, served: Mapping[str, ServedModel], metrics: ServingMetrics) -> None:
        self.served, self.metrics = served, metrics

    def _model(self, scope: Scope) -> ServedModel | _Answer:
        names = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("model")
        if names is None and len(self.served) == 1:
            return next(iter(self.served.values()))
        if names is None:
            return _Answer({"error_code": "BAD_REQUEST", "message": (
                f"this server serves {len(self.served)} models ({', '.join(self.served)}); "
                "choose one with /invocations?model=NAME")}, 400)
        if names[0] not in self.served:
            return _Answer({"error_code": "RESOURCE_DOES_NOT_EXIST",
                            "message": not_served(names[0], self.served)}, 404)
        return self.served[names[0]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        model = self._model(scope)
        ref = model.ref if isinstance(model, ServedModel) else ""
        try:
            body = await _read_body(receive)
        except _BodyTooLarge:
            answer = _Answer({"error_code": "BAD_REQUEST", "message": _TOO_LARGE}, 413)
        else:
            answer = model if isinstance(model, _Answer) else _guarded(
                ref, lambda: _mlflow_answer(model, body), mlflow=True)
        await _send_json(send, answer.status, orjson.dumps(answer.body, default=str))
        self.metrics.record(ref, "/invocations", answer.status, time.perf_counter() - started,
                            n_predictions=answer.n_predictions)


def _response_model(model: ServedModel) -> type[BaseModel]:
    prediction: Any = {TaskKind.CLUSTERING: int, TaskKind.ANOMALY: int}.get(
        model.kind, str if model.classify else float)
    fields: dict[str, Any] = {"model": (str, ...), "predictions": (list[prediction], ...)}
    if model.classify:
        fields["probabilities"] = (list[dict[str, float]], ...)
    if model.kind is TaskKind.ANOMALY:
        fields["scores"] = (list[float], ...)
    fields["ignored_fields"] = (list[str] | None, None)
    name = model.signature.request.__name__.replace("Request", "Response")
    return create_model(name, **fields)


def _documented(schema: dict[str, Any], served: Mapping[str, ServedModel]) -> dict[str, Any]:
    """Add the prediction routes (plain ASGI, so FastAPI does not see them) to the schema."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for name, model in served.items():
        request_schema, response_schema = ref(model.signature.request), ref(_response_model(model))
        schema["paths"][PREDICT_ROUTE.replace("{name}", name)] = {"post": {
            "tags": ["predict"], "summary": f"Predict with {model.ref}",
            "operationId": f"predict_{name}",
            "description": "Fields the model does not use are ignored and named in "
                           "`ignored_fields`. A field left out is an error; `null` is a "
                           "missing value.",
            "requestBody": {"required": True, "content": {JSON: {"schema": request_schema}}},
            "responses": {
                "200": {"description": "Predictions", "content": {JSON: {
                    "schema": response_schema}}},
                "422": {"description": "A field missing or of the wrong type: `detail` lists "
                                       "each with its `loc` (body, records, index, field)"}}}}
    schema["paths"]["/invocations"] = {"post": {
        "tags": ["mlflow"], "summary": "Predict in MLflow's scoring format",
        "operationId": "invocations",
        "description": f"A JSON object with one of {', '.join(FORMATS)}. With several models "
                       "served, add `?model=NAME`.",
        "parameters": [{"name": "model", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": list(served)}}],
        "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
        "responses": {"200": {"description": '`{"predictions": [...]}`'},
                      "400": {"description": "`{\"error_code\": ..., \"message\": ...}`"}}}}
    return schema


def without_telemetry() -> dict[str, Any]:
    # recent FastAPI checks for OpenTelemetry providers on every request (~40 µs); /metrics
    # is this app's telemetry, so switch that off where the option exists
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(models: Mapping[str, LoadedModel]) -> FastAPI:
    """A FastAPI app serving ``models`` (URL name → loaded model).

    Example::

        app = create_app({"adult": loaded})
        # POST /v1/models/adult/predict  {"records": [{"age": 39, ...}]}
    """
    policies, tables = split_policies(models)  # a policy acts (/act); it has no table signature
    served = {name: ServedModel(loaded) for name, loaded in tables.items()}
    metrics = ServingMetrics()
    app = FastAPI(title="trainforge serving", version=__version__,
                  description="Predictions from " + ", ".join(m.ref for m in models.values()),
                  **without_telemetry())
    # first in the route list: the hot path should match at once
    hot = [Route(PREDICT_ROUTE.replace("{name}", name), PredictHandler(model, metrics),
                 methods=["POST"]) for name, model in served.items()]
    hot.append(Route("/invocations", _InvocationsHandler(served, metrics), methods=["POST"]))
    app.router.routes[:0] = hot
    add_policy_routes(app, policies, metrics)  # before predict_unknown: theirs answer 409

    @app.post(PREDICT_ROUTE, include_in_schema=False)
    async def predict_unknown(name: str) -> Response:
        metrics.record("", PREDICT_ROUTE, 404, 0.0)
        return _json({"detail": not_served(name, served)}, 404)

    @app.get("/health", tags=["operations"])
    async def health() -> Response:
        return _json({"status": "ok", "models": [m.ref for m in models.values()]})

    @app.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _documented(
                get_openapi(title=app.title, version=app.version, description=app.description,
                            routes=app.routes), served)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
