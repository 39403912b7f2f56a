"""What ``/openapi.json`` says about the prediction routes: every status and content type each
really answers. The predict and invocations routes are plain ASGI (FastAPI does not see them),
so they are described here, from the same pydantic models that check their requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, create_model

from trainforge.data.task import TaskKind
from trainforge.serving.explain import EXPLAIN_PARAMETERS, EXPLANATION_FIELDS, STEPS_PARAMETER
from trainforge.serving.mlflow_input import FORMATS
from trainforge.serving.network_explain import (
    MAX_EXPLAINED_INPUTS,
    NETWORK_EXPLANATION_FIELDS,
    network_of,
)
from trainforge.serving.served import ServedModel
from trainforge.serving.signature import MAX_ERRORS_SHOWN

JSON = "application/json"
CSV = "text/csv"
MLFLOW_CONTENT_TYPES = (JSON, CSV)
PREDICT_ROUTE = "/v1/models/{name}/predict"

_DETAIL = {"type": "object", "required": ["detail"],
           "properties": {"detail": {"type": "string"}}}
_VALIDATION_ERRORS = {"type": "object", "required": ["detail"], "properties": {
    "detail": {"type": "array", "maxItems": MAX_ERRORS_SHOWN, "items": {
        "type": "object", "required": ["loc", "msg", "type"], "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                         {"type": "integer"}]}},
            "msg": {"type": "string"}, "type": {"type": "string"}}}},
    "more_errors": {"type": "integer", "description": "errors beyond those listed"}}}
_MLFLOW_ERROR = {"type": "object", "required": ["error_code", "message"], "properties": {
    "error_code": {"type": "string"}, "message": {"type": "string"}}}

METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "Prometheus' text exposition format, version 0.0.4",
    "content": {"text/plain": {"schema": {"type": "string"}}}}}


# every answer of a prediction route, an error too, carries its request's id
_REQUEST_ID = {"X-Request-Id": {
    "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "description": "this request's id (the prediction log's `request_id`; send it back "
                   "with the true label as feedback)"}}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _with_request_id(responses: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {status: {**answer, "headers": _REQUEST_ID} for status, answer in responses.items()}


def _response_model(model: ServedModel) -> type[BaseModel]:
    prediction: Any = {TaskKind.CLUSTERING: int, TaskKind.ANOMALY: int}.get(
        model.kind, str if model.classify else float)
    # a record the model cannot score (its output would not be a finite number) is a 422
    # naming its fields (served.scored_outputs), never a null here
    one_per_record = Field(..., description="one per record")
    fields: dict[str, Any] = {"model": (str, ...),
                              "predictions": (list[prediction], one_per_record)}
    fields["request_id"] = (str, Field(..., pattern="^[0-9a-f]{32}$", description=(
        "this request's id, also in the X-Request-Id header: give it with the true label as "
        "feedback")))
    if model.classify:
        fields["probabilities"] = (list[dict[str, float]], one_per_record)
    if model.kind is TaskKind.ANOMALY:
        fields["scores"] = (list[float], one_per_record)
    fields["ignored_fields"] = (list[str] | None, None)
    if model.kind.is_supervised:  # clustering and anomaly models are not explained (a 422)
        fields.update(EXPLANATION_FIELDS if network_of(model.loaded) is None
                      else NETWORK_EXPLANATION_FIELDS)
    name = model.signature.request.__name__.replace("Request", "Response")
    return create_model(name, **fields)


def _predict(name: str, model: ServedModel, request: dict[str, Any],
             response: dict[str, Any], *, max_records: int) -> dict[str, Any]:
    content: dict[str, Any] = {JSON: {"schema": request}}
    if any(spec.dtype == "image" for spec in model.signature.features):
        content["multipart/form-data"] = {"schema": {"type": "object"}}
    return {"post": {
        "tags": ["predict"], "summary": f"Predict with {model.ref}",
        "operationId": f"predict_{name}",
        "description": "Fields the model does not use are ignored and named in "
                       "`ignored_fields`. A field left out is an error; `null` is a missing "
                       f"value. At most {max_records:,} records a request.",
        "parameters": EXPLAIN_PARAMETERS + (
            [] if network_of(model.loaded) is None else [STEPS_PARAMETER]),
        "requestBody": {"required": True, "content": content},
        "responses": _with_request_id({
            "200": _answer("Predictions", response),
            "413": _answer(f"More than {max_records:,} records (with explain=true, more "
                           "than it explains: an image or text network at most "
                           f"{MAX_EXPLAINED_INPUTS}), or a body over the size limit: split "
                           "the batch", _DETAIL),
            "422": _answer("A field missing or of the wrong type, or a body that is not JSON: "
                           f"`detail` lists the first {MAX_ERRORS_SHOWN}, each with its `loc` "
                           "(body, records, index, field; or query, parameter), and "
                           "`more_errors` counts the rest; or, with explain=true, a model that "
                           "cannot be explained (`detail` says why and what can be)",
                           {"anyOf": [_VALIDATION_ERRORS, _DETAIL]}),
            "500": _answer("The model failed; the server log has the details", _DETAIL)})}}


def _invocations(served: Mapping[str, ServedModel], *, max_records: int) -> dict[str, Any]:
    return {"post": {
        "tags": ["mlflow"], "summary": "Predict in MLflow's scoring format",
        "operationId": "invocations",
        "description": f"A JSON object with one of {', '.join(FORMATS)}, or `text/csv` with a "
                       f"header row. At most {max_records:,} records a request. With several "
                       "models served, add `?model=NAME`.",
        # with one model served, ?model= may be left out; with several it must name one
        "parameters": [{"name": "model", "in": "query", "required": len(served) > 1,
                        "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {
            JSON: {"schema": {"type": "object"}}, CSV: {"schema": {"type": "string"}}}},
        "responses": _with_request_id({
            "200": _answer('`{"predictions": [...]}`', {
                "type": "object", "required": ["predictions"],
                "properties": {"predictions": {"type": "array"}}}),
            "400": _answer("A body in no known format, or a record that does not fit the "
                           "model (the first errors, without the values sent)", _MLFLOW_ERROR),
            "404": _answer("`?model=` names no served model", _MLFLOW_ERROR),
            "413": _answer(f"More than {max_records:,} records, or a body over the size "
                           "limit", _MLFLOW_ERROR),
            "415": _answer("A content type other than JSON or CSV", _MLFLOW_ERROR),
            "500": _answer("The model failed; the server log has the details",
                           _MLFLOW_ERROR)})}}


def documented(schema: dict[str, Any], served: Mapping[str, ServedModel], *,
               policies: Sequence[str], max_records: int) -> dict[str, Any]:
    """``schema`` with the prediction routes, and each policy's ``/predict`` (a 409) added."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for name, model in served.items():
        request = ref(model.signature.request)
        components[model.signature.request.__name__]["properties"]["records"]["maxItems"] = (
            max_records)
        schema["paths"][PREDICT_ROUTE.replace("{name}", name)] = _predict(
            name, model, request, ref(_response_model(model)), max_records=max_records)
    schema["paths"]["/invocations"] = _invocations(served, max_records=max_records)
    for name in policies:
        schema["paths"][PREDICT_ROUTE.replace("{name}", name)] = {"post": {
            "tags": ["act"], "summary": f"{name} is a policy: use /act",
            "operationId": f"predict_policy_{name}",
            "responses": {"409": _answer("A policy acts on observations; the message says "
                                         f"to POST /v1/models/{name}/act", _DETAIL)}}}
    return schema
