"""Serving a policy: ``POST /v1/models/{name}/act`` turns an observation into an action.

A policy is served beside table models by the same app; its ``/predict`` answers 409 with a
message pointing at ``/act``. The routes are ordinary FastAPI routes: a policy's network costs
far more than FastAPI's request handling, and the request and response models then document
themselves in ``/docs``. Nothing here imports the training code: the policy comes from its
safe files (``rl/package.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

from trainforge.errors import InvalidRequest, ModelIsAPolicy, TrainforgeError
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.metrics import ServingMetrics

if TYPE_CHECKING:
    from trainforge.rl.package import PolicyModel

ACT_ROUTE = "/v1/models/{name}/act"
PREDICT_ROUTE = "/v1/models/{name}/predict"
JSON = "application/json"
MAX_OBSERVATIONS = 10_000  # per request, as MAX_RECORDS is for predict
ACT_BODY_BYTES = 16 * 1024 * 1024  # read no further: an image observation batch fits easily


class ActRequest(BaseModel):
    """One observation, or a batch of them: exactly one of the two fields."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"observation": [0.01, -0.02, 0.03, 0.04]}]})

    observation: Any | None = Field(
        default=None, description="One observation of the environment's shape (nested lists "
                                  "of numbers for a multi-dimensional one)")
    observations: list[Any] | None = Field(
        default=None, max_length=MAX_OBSERVATIONS, description="A batch: one observation per "
                                                                "item")


class ActResponse(BaseModel):
    model: str = Field(description="The policy that acted, as NAME:VERSION")
    action: Any | None = Field(default=None, description="For `observation`: an integer "
                               "(discrete actions) or a list of numbers (continuous ones)")
    actions: list[Any] | None = Field(default=None, description="For `observations`: one "
                                      "action per observation")


def split_policies(models: Mapping[str, LoadedModel]
                   ) -> tuple[dict[str, LoadedModel], dict[str, LoadedModel]]:
    """``(policies, table models)`` by URL name: the two are served by different routes."""
    policies = {name: loaded for name, loaded in models.items() if loaded.is_policy}
    return policies, {name: loaded for name, loaded in models.items() if name not in policies}


def add_policy_routes(app: FastAPI, policies: Mapping[str, LoadedModel],
                      metrics: ServingMetrics) -> None:
    """``/act`` for each policy, and a ``/predict`` that says to use ``/act``."""
    for name, loaded in policies.items():
        _add_policy(app, name, loaded, metrics)


def _add_policy(app: FastAPI, name: str, loaded: LoadedModel, metrics: ServingMetrics) -> None:
    policy: PolicyModel = loaded.model  # type: ignore[assignment]  # split_policies chose it
    route = ACT_ROUTE.replace("{name}", name)
    shape = list(policy.observation_shape)

    def act(request: ActRequest) -> Response:
        started = time.perf_counter()
        try:
            body, count = _act(policy, loaded.ref, request), 1
            if request.observations is not None:
                count = len(request.observations)
            status = 200
        except TrainforgeError as error:
            body, count, status = {"detail": str(error)}, 0, error.http_status
        metrics.record(loaded.ref, ACT_ROUTE, status, time.perf_counter() - started,
                       n_predictions=count)
        return Response(orjson.dumps(body), status_code=status, media_type=JSON)

    app.post(route, tags=["act"], summary=f"Act with {loaded.ref}", operation_id=f"act_{name}",
             response_model=ActResponse, max_body_size=ACT_BODY_BYTES,
             description=f"An observation of shape {shape} ({policy.env_spec}) in; the "
                         "policy's deterministic action out. `observations` takes a batch.",
             responses={413: {"description": f"a body over {ACT_BODY_BYTES // 2**20} MiB"},
                        422: {"description": "An observation of the wrong shape (`detail` "
                                             "names the expected and the given shape), not "
                                             "numbers, or a batch over "
                                             f"{MAX_OBSERVATIONS:,} observations"}})(act)

    def predict_policy() -> Response:
        metrics.record(loaded.ref, PREDICT_ROUTE, 409, 0.0)
        return Response(orjson.dumps({"detail": str(ModelIsAPolicy(loaded.ref, url_name=name))}),
                        status_code=409, media_type=JSON)

    app.post(PREDICT_ROUTE.replace("{name}", name), include_in_schema=False)(predict_policy)


def _act(policy: PolicyModel, ref: str, request: ActRequest) -> dict[str, Any]:
    if (request.observation is None) == (request.observations is None):
        raise InvalidRequest('send exactly one of "observation" (one observation) or '
                             '"observations" (a list of them)')
    if request.observations is not None:
        return {"model": ref, "actions": policy.act_many(request.observations)}
    return {"model": ref, "action": policy.act_one(request.observation)}
