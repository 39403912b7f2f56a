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

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from trainforge.config import MAX_SEED, MAX_TIME_BUDGET_S, MAX_TRIALS, TrainConfig
from trainforge.errors import (
    ColumnNotFound,
    ConfigError,
    DatasetNotFound,
    InvalidField,
    RegistryError,
    UnknownMetric,
)
from trainforge.server.api.bodies import Number, WholeNumber
from trainforge.store import jobs as job_store
from trainforge.store.access import Principal
from trainforge.store.datasets import get_dataset
from trainforge.store.uploads import StoredUpload, get_upload
from trainforge.workspace import Workspace

_DATASET = "the id of an uploaded dataset (POST /api/v1/datasets answers it)"
_MODEL = "a registered model: NAME, NAME:VERSION or NAME@ALIAS"


class TrainJob(BaseModel, frozen=True, extra="forbid"):
    """Train on an uploaded table: the options of `trainforge train`."""

    kind: Literal["train"]
    dataset: str = Field(description=_DATASET, max_length=64)
    target: str | None = Field(default=None, max_length=200, description="the column to predict")
    name: str | None = Field(default=None, max_length=100,
                             description="registry name (default: the file's)")
    time_budget: Number = Field(default=60.0, gt=0, le=MAX_TIME_BUDGET_S,
                                description="seconds for the whole run")
    trials: WholeNumber | None = Field(default=None, gt=0, le=MAX_TRIALS,
                                       description="exactly N search trials")
    metric: str | None = Field(default=None, max_length=50)
    seed: WholeNumber = Field(default=0, ge=0, le=MAX_SEED)
    algorithm: str = Field(default="auto", max_length=100)
    test_size: Number = Field(default=0.2, gt=0.0, lt=0.9)
    split: Literal["stratified", "random", "group", "time"] = "stratified"
    group_column: str | None = Field(default=None, max_length=200)
    time_column: str | None = Field(default=None, max_length=200)
    init_from: str | None = Field(default=None, max_length=200,
                                  description=_MODEL + " to start a network from")
    freeze_backbone: bool = False


class PredictJob(BaseModel, frozen=True, extra="forbid"):
    """Predict every row of an uploaded table; the predictions are the job's output file."""

    kind: Literal["predict"]
    model: str = Field(description=_MODEL, max_length=200)
    dataset: str = Field(description=_DATASET, max_length=64)


class EvaluateJob(BaseModel, frozen=True, extra="forbid"):
    """Score a registered model on an uploaded labelled table; the metrics are the result."""

    kind: Literal["evaluate"]
    model: str = Field(description=_MODEL, max_length=200)
    dataset: str = Field(description=_DATASET, max_length=64)


JobRequest = Annotated[TrainJob | PredictJob | EvaluateJob, Field(discriminator="kind")]


def submit(workspace: Workspace, request: TrainJob | PredictJob | EvaluateJob,
           principal: Principal) -> job_store.JobRecord:
    """Check all of ``request`` against the store (its dataset, its columns, its models) and
    queue it; returns the queued job. InvalidField (422) names the field that is wrong.

    The job's config names the dataset by its upload id and file name, never by its path on
    the server: the worker finds the file from the id (``running.dataset_file``).
    """
    upload = _upload(workspace, request.dataset)
    config: dict[str, Any] = {"dataset": request.dataset, "dataset_name": upload["filename"]}
    if isinstance(request, TrainJob):
        _check_training(workspace, request, upload)
        settings = _train_config(request, str(upload["file"]))
        config["train"] = settings.model_dump(mode="json", exclude={"data"})
    else:
        _check_model(workspace, "model", request.model)
        config["model"] = request.model
    return job_store.get_job(workspace, job_store.submit_job(
        workspace, kind=request.kind, config=config, submitted_by=principal.name))


def _upload(workspace: Workspace, upload_id: str) -> StoredUpload:
    try:
        return get_upload(workspace, upload_id)
    except DatasetNotFound:
        raise InvalidField("dataset", f"no uploaded dataset has the id {upload_id!r}; upload "
                           "the file with POST /api/v1/datasets and use the id it answers"
                           ) from None


def _check_model(workspace: Workspace, field: str, ref: str) -> None:
    try:
        workspace.registry.resolve(ref)
    except RegistryError as error:  # no such model, or not a reference at all
        raise InvalidField(field, str(error)) from None


def _check_training(workspace: Workspace, request: TrainJob, upload: StoredUpload) -> None:
    """What the worker would otherwise find out minutes later: the name, the algorithm, the
    model to start from, the columns and the metric."""
    from trainforge.registry.refs import check_name

    if request.name is not None:
        try:
            check_name(request.name)
        except RegistryError as error:
            raise InvalidField("name", str(error)) from None
    if request.algorithm != "auto":
        from trainforge.algorithms import catalog

        catalog.get(request.algorithm)  # UnknownAlgorithm (422) names the close matches
    if request.init_from is not None:
        _check_model(workspace, "init_from", request.init_from)
    recorded = get_dataset(workspace, upload["dataset_id"]) if upload["dataset_id"] else None
    columns = _columns(recorded)
    for field in ("target", "group_column", "time_column"):
        column = getattr(request, field)
        if column is not None and columns and column not in columns:
            raise InvalidField(field, str(ColumnNotFound(column, upload["filename"],
                                                         list(columns), f"`{field}`")))
    if request.metric is not None:
        _check_metric(request.metric, columns.get(request.target or ""))


def _columns(recorded: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The dataset's columns as its profile describes them (kind, distinct values), by name;
    empty when the upload was recorded without a profile."""
    profile = (recorded or {}).get("profile") or {}
    return {str(c["name"]): c for c in profile.get("columns", []) if "name" in c}


def _check_metric(metric: str, target: dict[str, Any] | None) -> None:
    """``metric`` must apply to a task the target can be: binary with two values; numbers
    may be classes or a quantity; anything else is classes. Training decides between those
    from the values themselves (``data.targets.infer_task``)."""
    from trainforge.data.metrics import metric_names
    from trainforge.data.task import SUPERVISED_KINDS, TaskKind

    if target is None:  # no profile to go by: any task's metric may be meant
        kinds = [kind for kind in TaskKind if kind in SUPERVISED_KINDS]
    elif target.get("n_distinct") == 2:
        kinds = [TaskKind.BINARY]
    elif target.get("kind") == "numeric":
        kinds = [TaskKind.MULTICLASS, TaskKind.REGRESSION]
    else:
        kinds = [TaskKind.MULTICLASS]
    if not any(metric in metric_names(kind) for kind in kinds):
        known = list(dict.fromkeys(m for kind in kinds for m in metric_names(kind)))
        raise UnknownMetric(metric, " or ".join(kind.value for kind in kinds), known)


def _train_config(request: TrainJob, data: str) -> TrainConfig:
    fields = request.model_dump(exclude={"kind", "dataset", "time_budget"})
    try:
        return TrainConfig(data=data, time_budget_s=request.time_budget, **fields)
    except ValidationError as error:  # a combination the fields alone could not rule out
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                             for e in error.errors())
        raise ConfigError(f"invalid training settings: {problems}") from None
