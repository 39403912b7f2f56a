"""What a client may ask the job queue to do, and the one function that queues it.

``POST /api/v1/jobs`` takes one of three bodies, told apart by ``kind``:

    {"kind": "train", "dataset": ID, "target": "class", "time_budget": 60, "trials": 5, ...}
    {"kind": "predict", "model": "credit@production", "dataset": ID}
    {"kind": "evaluate", "model": "credit:3", "dataset": ID}

``dataset`` is the id of an upload (``POST /api/v1/datasets``). The train body has the options
of ``trainforge train`` (the same names, ``time_budget`` in seconds) and becomes the same
``TrainConfig``: a body the CLI would refuse is refused here, before anything is queued. The
web UI's form calls ``submit`` too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PositiveInt, ValidationError

from trainforge.config import TrainConfig
from trainforge.errors import ConfigError, DatasetNotFound
from trainforge.store import jobs as job_store
from trainforge.store.access import Principal
from trainforge.store.uploads import get_upload
from trainforge.workspace import Workspace

_DATASET = "the id of an uploaded dataset (POST /api/v1/datasets answers it)"
_MODEL = "a registered model: NAME, NAME:VERSION or NAME@ALIAS"


class TrainJob(BaseModel, frozen=True, extra="forbid"):
    """Train on an uploaded table: the options of `trainforge train`."""

    kind: Literal["train"]
    dataset: str = Field(description=_DATASET)
    target: str | None = Field(default=None, description="the column to predict")
    name: str | None = Field(default=None, description="registry name (default: the file's)")
    time_budget: float = Field(default=60.0, gt=0, description="seconds for the whole run")
    trials: PositiveInt | None = Field(default=None, description="exactly N search trials")
    metric: str | None = None
    seed: int = 0
    algorithm: str = "auto"
    test_size: float = Field(default=0.2, gt=0.0, lt=0.9)
    split: Literal["stratified", "random", "group", "time"] = "stratified"
    group_column: str | None = None
    time_column: str | None = None
    init_from: str | None = Field(default=None, description=_MODEL + " to start a network from")
    freeze_backbone: bool = False


class PredictJob(BaseModel, frozen=True, extra="forbid"):
    """Predict every row of an uploaded table; the predictions are the job's output file."""

    kind: Literal["predict"]
    model: str = Field(description=_MODEL)
    dataset: str = Field(description=_DATASET)


class EvaluateJob(BaseModel, frozen=True, extra="forbid"):
    """Score a registered model on an uploaded labelled table; the metrics are the result."""

    kind: Literal["evaluate"]
    model: str = Field(description=_MODEL)
    dataset: str = Field(description=_DATASET)


JobRequest = Annotated[TrainJob | PredictJob | EvaluateJob, Field(discriminator="kind")]


def submit(workspace: Workspace, request: TrainJob | PredictJob | EvaluateJob,
           principal: Principal) -> dict[str, Any]:
    """Check ``request`` against the store (its dataset, its model) and queue it; returns the
    queued job. ConfigError (422) names the field that is wrong."""
    data = _dataset_file(workspace, request.dataset)
    config: dict[str, Any] = {"dataset": request.dataset}
    if isinstance(request, TrainJob):
        config["train"] = _train_config(request, data).model_dump(mode="json")
    else:
        workspace.registry.resolve(request.model)  # an unknown model fails now: 404
        config.update(model=request.model, data=data)
    return job_store.get_job(workspace, job_store.submit_job(
        workspace, kind=request.kind, config=config, submitted_by=principal.name))


def _dataset_file(workspace: Workspace, upload_id: str) -> str:
    try:
        return str(get_upload(workspace, upload_id)["file"])
    except DatasetNotFound:
        raise ConfigError(f"dataset: no uploaded dataset has the id {upload_id!r}; upload the "
                          "file with POST /api/v1/datasets and use the id it answers") from None


def _train_config(request: TrainJob, data: str) -> TrainConfig:
    fields = request.model_dump(exclude={"kind", "dataset", "time_budget"})
    if request.algorithm != "auto":
        from trainforge.algorithms import catalog

        catalog.get(request.algorithm)  # UnknownAlgorithm (422) names the close matches
    try:
        return TrainConfig(data=data, time_budget_s=request.time_budget, **fields)
    except ValidationError as error:  # a combination the fields alone could not rule out
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                             for e in error.errors())
        raise ConfigError(f"invalid training settings: {problems}") from None
