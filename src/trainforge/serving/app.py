"""The prediction app: one FastAPI app serving one or more loaded models.

Routes: ``POST /v1/models/{name}/predict`` (trainforge's format), ``POST /invocations``
(MLflow's scoring format), ``GET /health`` and ``GET /metrics`` (Prometheus). Request bodies
are checked by each model's pydantic request model straight from the raw bytes, and responses
are written with orjson, so FastAPI's per-request body handling is skipped on the hot path while
``/docs`` still shows every model's request schema.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi

from trainforge import __version__
from trainforge.errors import InvalidRequest, TrainforgeError
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.metrics import CONTENT_TYPE, ServingMetrics
from trainforge.serving.mlflow_input import records_from_mlflow
from trainforge.serving.served import ServedModel
from trainforge.serving.signature import RecordsInvalid

log = logging.getLogger(__name__)

JSON = "application/json"
PREDICT_ROUTE = "/v1/models/{name}/predict"


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=JSON)


def _not_served(name: str, served: Mapping[str, ServedModel]) -> str:
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
    except Exception as error:  # noqa: BLE001 - one bad request must never stop the server
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


def create_app(models: Mapping[str, LoadedModel]) -> FastAPI:
    """A FastAPI app serving ``models`` (URL name → loaded model).

    Example::

        app = create_app({"adult": loaded})
        # POST /v1/models/adult/predict  {"records": [{"age": 39, ...}]}
    """
    served = {name: ServedModel(loaded) for name, loaded in models.items()}
    metrics = ServingMetrics()
    app = FastAPI(title="trainforge serving", version=__version__,
                  description="Predictions from " + ", ".join(m.ref for m in served.values()))

    def respond(ref: str, route: str, started: float, answer: _Answer) -> Response:
        metrics.record(ref, route, answer.status, time.perf_counter() - started,
                       n_predictions=answer.n_predictions)
        return _json(answer.body, answer.status)

    def predict_endpoint(model: ServedModel) -> Callable[[Request], Any]:
        async def predict(request: Request) -> Response:
            started = time.perf_counter()
            body = await request.body()
            answer = _guarded(model.ref, lambda: _predict_answer(model, body), mlflow=False)
            return respond(model.ref, PREDICT_ROUTE, started, answer)
        return predict

    for name, model in served.items():
        app.add_api_route(
            PREDICT_ROUTE.replace("{name}", name), predict_endpoint(model), methods=["POST"],
            summary=f"Predict with {model.ref}", tags=["predict"], response_class=Response,
            openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {
                "$ref": f"#/components/schemas/{model.signature.request.__name__}"}}}}})

    @app.post(PREDICT_ROUTE, include_in_schema=False)
    async def predict_unknown(name: str) -> Response:
        return _json({"detail": _not_served(name, served)}, 404)

    @app.post("/invocations", tags=["mlflow"], summary="Predict (MLflow scoring format)")
    async def invocations(request: Request) -> Response:
        started = time.perf_counter()
        name = request.query_params.get("model")
        if name is None and len(served) == 1:
            name = next(iter(served))
        if name is None or name not in served:
            message = (_not_served(name, served) if name is not None else
                       f"this server serves {len(served)} models ({', '.join(served)}); "
                       "choose one with /invocations?model=NAME")
            answer = _Answer({"error_code": "BAD_REQUEST", "message": message},
                             404 if name is not None else 400)
            return respond("", "/invocations", started, answer)
        model = served[name]
        body = await request.body()
        answer = _guarded(model.ref, lambda: _mlflow_answer(model, body), mlflow=True)
        return respond(model.ref, "/invocations", started, answer)

    @app.get("/health", tags=["operations"])
    async def health() -> Response:
        return _json({"status": "ok", "models": [m.ref for m in served.values()]})

    @app.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in served.values():
                request_schema = model.signature.request.model_json_schema(
                    ref_template="#/components/schemas/{model}")
                components.update(request_schema.pop("$defs", {}))
                components[model.signature.request.__name__] = request_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
