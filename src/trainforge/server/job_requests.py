"""What a client may ask the job queue to do, and the one function that queues it.

``POST /api/v1/jobs`` takes one body per job a CLI verb starts, told apart by ``kind``:

    {"kind": "train", "dataset": ID, "target": "class", "time_budget": 60, "trials": 5, ...}
    {"kind": "predict", "model": "credit@production", "dataset": ID}   # "backend": "ray"
    {"kind": "evaluate", "model": "credit:3", "dataset": ID}
    {"kind": "cluster", "dataset": ID, "exclude": ["cultivar"], "method": "kmeans", "k": 3}
    {"kind": "anomalies", "dataset": ID, "method": "lof", "contamination": 0.05, "top": 10}
    {"kind": "rl_train", "env": "CartPole-v1", "timesteps": 20000, "algo": "PPO"}
    {"kind": "rl_eval", "model": "cartpole-v1@production", "episodes": 20}
    {"kind": "update", "model": "churn", "since": "2026-06-01T00:00:00Z", "rounds": 20}
    {"kind": "federated_simulate", "dataset": ID, "target": "class", "clients": 3,
     "partition": "dirichlet:0.5", "rounds": 10}

Every body also takes ``cpus``, ``gpus`` and ``memory_mb``: what the job reserves on a Ray
cluster (``job_resources``). ``dataset`` is the id of an upload (``POST /api/v1/datasets``). The train, cluster, anomalies
and rl_train bodies are derived from the configs the CLI builds (``TrainConfig``,
``ClusterConfig``, ``AnomalyConfig``, ``RLTrainConfig``): the same names as the CLI's options
(``time_budget`` in seconds), defaults and bounds, less the few that only a local door may use
(``LOCAL_ONLY``). A body the CLI would refuse is refused here, in full, before anything is
queued. The web UI's forms call ``submit`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from trainforge.config import (
    MAX_EPISODES,
    AnomalyConfig,
    ClusterConfig,
    FederatedSimulationConfig,
    Name,
    RLTrainConfig,
    TrainConfig,
    UpdateConfig,
    WholeNumber,
)
from trainforge.errors import (
    ColumnNotFound,
    ConfigError,
    DatasetNotFound,
    InvalidField,
    NeedsReinforcementLearning,
    NotExplainable,
    RegistryError,
    UnknownMetric,
)
from trainforge.server.job_resources import ClusterTotals, JobResources, check_fits
from trainforge.serving.explain import MAX_TOP_K
from trainforge.store import jobs as job_store
from trainforge.store.access import Principal
from trainforge.store.datasets import get_dataset
from trainforge.store.uploads import StoredUpload, get_upload
from trainforge.workspace import Workspace

C = TypeVar("C", bound=BaseModel)
_DATASET = "the id of an uploaded dataset (POST /api/v1/datasets answers it)"
_MODEL = "a registered model: NAME, NAME:VERSION or NAME@ALIAS"
_ENV = ("a registered Gymnasium id, e.g. CartPole-v1. A job never imports code named in a "
        "request: module:Class environments run only from the CLI or the SDK, on your machine")
# what a job body leaves out of its config, and why: the server reads the upload ``dataset``
# names, never a path or a database URL from a client (``data``, ``sql``), and a checkpoint
# interval is not an option of `trainforge rl train` either
LOCAL_ONLY: dict[type[BaseModel], frozenset[str]] = {
    TrainConfig: frozenset({"data", "sql"}),
    ClusterConfig: frozenset({"data", "sql"}),
    AnomalyConfig: frozenset({"data", "sql"}),
    RLTrainConfig: frozenset({"checkpoint_every"}),
    UpdateConfig: frozenset(),
    FederatedSimulationConfig: frozenset({"data"}),
}
# the agents `trainforge rl train --algo` knows (rl.agents.ALGORITHMS, which imports torch:
# tests/test_doors.py checks the two agree)
RL_ALGORITHMS = ("PPO", "A2C", "DQN", "SAC", "TD3")
RESOURCES = frozenset(JobResources.model_fields)  # the job's, not its config's: kept apart


def options_of(config: type[BaseModel]) -> type[BaseModel]:
    """A body model with ``config``'s fields (their types, defaults, bounds, descriptions and
    user-facing names) less ``LOCAL_ONLY``: one declaration, so the doors cannot drift."""
    fields: dict[str, Any] = {name: (info.annotation, info)
                              for name, info in config.model_fields.items()
                              if name not in LOCAL_ONLY[config]}
    return create_model(f"{config.__name__}Options",
                        __config__=ConfigDict(frozen=True, extra="forbid"), **fields)


# the bases are built at import time, so mypy sees them as Any: the fields are TrainConfig's
class TrainJob(options_of(TrainConfig), JobResources):  # type: ignore[misc]
    """Train on an uploaded table: the options of `trainforge train`."""

    kind: Literal["train"]
    dataset: str = Field(description=_DATASET, max_length=64)


class PredictJob(JobResources, frozen=True, extra="forbid"):
    """Predict every row of an uploaded table; the predictions are the job's output file."""

    kind: Literal["predict"]
    model: str = Field(description=_MODEL, max_length=200)
    dataset: str = Field(description=_DATASET, max_length=64)
    backend: Literal["local", "ray"] = Field(
        default="local", description="ray: Ray Data predicts the table (Parquet or CSV) into "
        "shards and a manifest.json under the artifact store's jobs/ID/predictions/ (on S3 "
        "when TRAINFORGE_ARTIFACTS is s3://), which the job's result names")
    explain_top_k: int | None = Field(None, ge=1, le=MAX_TOP_K, description=(
        "add each row's top contributions, this many (`trainforge predict --explain`); a "
        "text network: its top words; empty: no explanations"))


class EvaluateJob(JobResources, frozen=True, extra="forbid"):
    """Score a registered model on an uploaded labelled table; the metrics are the result."""

    kind: Literal["evaluate"]
    model: str = Field(description=_MODEL, max_length=200)
    dataset: str = Field(description=_DATASET, max_length=64)


class ClusterJob(options_of(ClusterConfig), JobResources):  # type: ignore[misc]
    """Segment an uploaded table's rows: the options of `trainforge cluster` (``features`` and
    ``exclude`` as lists of column names)."""

    kind: Literal["cluster"]
    dataset: str = Field(description=_DATASET, max_length=64)


class AnomaliesJob(options_of(AnomalyConfig), JobResources):  # type: ignore[misc]
    """Score an uploaded table's rows for how unusual they are: the options of `trainforge
    anomalies`."""

    kind: Literal["anomalies"]
    dataset: str = Field(description=_DATASET, max_length=64)


class RLTrainJob(options_of(RLTrainConfig), JobResources):  # type: ignore[misc]
    """Train an agent: the options of `trainforge rl train` (``search_trials`` is its
    ``--search``). ``env`` must be a registered Gymnasium id: a request never names code for
    the server to import. A retry after a worker died resumes from the last checkpoint."""

    kind: Literal["rl_train"]
    env: Name = Field(description=_ENV)


class RLEvalJob(JobResources, frozen=True, extra="forbid"):
    """Replay a registered policy: `trainforge rl eval`; the mean ± std return is the result."""

    kind: Literal["rl_eval"]
    model: str = Field(description=_MODEL + " (a policy)", max_length=200)
    env: Name | None = Field(default=None, description="the environment to replay it in "
                                                       "(default: the one it was trained on): "
                                                       + _ENV)
    episodes: WholeNumber = Field(default=20, gt=0, le=MAX_EPISODES,
                                  description="episodes to replay")


class UpdateJob(options_of(UpdateConfig), JobResources):  # type: ignore[misc]
    """Continue a model on its deployments' labelled feedback: `trainforge update`; the new
    version is the model's ``challenger``."""

    kind: Literal["update"]


class FederatedSimulateJob(options_of(FederatedSimulationConfig), JobResources):  # type: ignore[misc]
    """Split an uploaded table between simulated data holders and train it as a federation
    of processes: the options of `trainforge federated simulate` (the worker's machine needs
    Flower's virtualenv: `trainforge federated setup`)."""

    kind: Literal["federated_simulate"]
    dataset: str = Field(description=_DATASET, max_length=64)


AnyJob = (TrainJob | PredictJob | EvaluateJob | ClusterJob | AnomaliesJob | RLTrainJob
          | RLEvalJob | UpdateJob | FederatedSimulateJob)
JobRequest = Annotated[AnyJob, Field(discriminator="kind")]


def submit(workspace: Workspace, request: AnyJob, principal: Principal, *,
           capacity: Callable[[], ClusterTotals] | None = None) -> job_store.JobRecord:
    """Check all of ``request`` against the store (its dataset, its columns, its models, its
    environment) and, given the job backend's ``capacity``, its resources against the
    cluster's; queue it and return the queued job. InvalidField (422) names the field that is
    wrong, ResourcesExceedCluster (422) the resource.

    The job's config names the dataset by its upload id and file name, never by its path on
    the server: the worker finds the file from the id (``running.dataset_file``).
    """
    if capacity is not None:
        check_fits(request, capacity())
    config = {**_checked(workspace, request), "resources": request.declared()}
    return job_store.get_job(workspace, job_store.submit_job(
        workspace, kind=request.kind, config=config, submitted_by=principal.name))


def _checked(workspace: Workspace, request: AnyJob) -> dict[str, Any]:
    """The job's config, once every field of ``request`` is known to be usable."""
    if isinstance(request, RLTrainJob):
        _check_name(request.name)
        check_env("env", request.env)
        if request.algo is not None and request.algo.upper() not in RL_ALGORITHMS:
            raise InvalidField("algo", f"not an algorithm of `trainforge rl train`; choose "
                                       f"one of {', '.join(RL_ALGORITHMS)}")
        fields = request.model_dump(exclude={"kind", *RESOURCES})
        return {"rl_train": _config(RLTrainConfig, fields).model_dump(mode="json")}
    if isinstance(request, RLEvalJob):
        trained_on = _check_policy(workspace, request.model)
        # the default is the policy's own environment, which the CLI may have named as
        # module:Class: the server replays only registered ones
        check_env("env", request.env or trained_on)
        return {"model": request.model, "env": request.env, "episodes": request.episodes}
    if isinstance(request, UpdateJob):
        _check_updatable(workspace, request.model)
        fields = request.model_dump(exclude={"kind", *RESOURCES})
        return {"update": _config(UpdateConfig, fields).model_dump(mode="json")}
    upload = _upload(workspace, request.dataset)
    config: dict[str, Any] = {"dataset": request.dataset, "dataset_name": upload["filename"]}
    data = str(upload["file"])
    if isinstance(request, TrainJob):
        _check_training(workspace, request, upload)
        settings = _config(TrainConfig, {**_fields(request), "data": data})
        config["train"] = settings.model_dump(mode="json", exclude={"data"})
    elif isinstance(request, FederatedSimulateJob):
        _check_name(request.name)
        _check_columns("target", [request.target], _columns(workspace, upload), upload)
        config[request.kind] = _config(FederatedSimulationConfig,
                                       {**_fields(request), "data": data}).model_dump(
            mode="json", exclude={"data"})
    elif isinstance(request, ClusterJob | AnomaliesJob):
        _check_unsupervised(workspace, request, upload)
        kind: type[BaseModel] = ClusterConfig if isinstance(request, ClusterJob) \
            else AnomalyConfig
        config[request.kind] = _config(kind, {**_fields(request), "data": data}).model_dump(
            mode="json", exclude={"data"})
    else:
        _check_model(workspace, "model", request.model)
        config["model"] = request.model
        if isinstance(request, PredictJob):
            config["backend"] = request.backend
            if request.explain_top_k is not None:
                if request.backend == "ray":
                    raise InvalidField("explain_top_k", "explanations are written by the local "
                                       'backend only; leave explain_top_k out or "backend" '
                                       "local")
                _check_explainable(workspace, request.model)
                config["explain_top_k"] = request.explain_top_k
    return config


def _fields(request: BaseModel) -> dict[str, Any]:
    fields: dict[str, Any] = request.model_dump(exclude={"kind", "dataset", *RESOURCES})
    return fields


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


def _check_explainable(workspace: Workspace, ref: str) -> None:
    """A model whose outputs have explanations, by its task (from its manifest: nothing
    loaded); what only loading it tells (a frozen text encoder) the job itself reports."""
    kind = str(workspace.registry.show(ref)["task"]["kind"])
    if kind in ("clustering", "anomaly"):
        why = NotExplainable(ref, f"it is a {kind} model: its segments or scores have no "
                                  "per-feature contributions")
        raise InvalidField("explain_top_k", f"{why}; leave explain_top_k out")


def _check_updatable(workspace: Workspace, ref: str) -> None:
    """A model with a member that can learn in place (from its manifest: nothing loaded)."""
    from trainforge.algorithms.online import UPDATABLE
    from trainforge.errors import ModelCannotUpdate

    _check_model(workspace, "model", ref)
    manifest = workspace.registry.show(ref)
    algorithms = [str(member["algorithm"]) for member in manifest["members"]]
    if not any(algorithm in UPDATABLE for algorithm in algorithms):
        raise ModelCannotUpdate(f"{manifest['name']}:{manifest['version']}", algorithms,
                                UPDATABLE)


def _check_training(workspace: Workspace, request: TrainJob, upload: StoredUpload) -> None:
    """What the worker would otherwise find out minutes later: the name, the algorithm, the
    model to start from, the columns and the metric."""
    _check_name(request.name)
    if request.algorithm != "auto":
        from trainforge.algorithms import catalog

        catalog.get(request.algorithm)  # UnknownAlgorithm (422) names the close matches
    if request.init_from is not None:
        _check_model(workspace, "init_from", request.init_from)
    columns = _columns(workspace, upload)
    for field in ("target", "group_column", "time_column"):
        _check_columns(field, [getattr(request, field)], columns, upload)
    _check_columns("sensitive_features", list(request.sensitive_features), columns, upload)
    if request.metric is not None:
        _check_metric(request.metric, columns.get(request.target or ""))


def _check_unsupervised(workspace: Workspace, request: ClusterJob | AnomaliesJob,
                        upload: StoredUpload) -> None:
    """The name, the columns, the method and the share of anomalies, as the worker would."""
    from trainforge.algorithms import anomaly, clustering

    _check_name(request.name)
    columns = _columns(workspace, upload)
    _check_columns("features", list(request.features or ()), columns, upload)
    _check_columns("exclude", list(request.exclude), columns, upload)
    methods = clustering.METHODS if isinstance(request, ClusterJob) else anomaly.METHODS
    if request.method not in ("auto", *methods):
        raise InvalidField("method", f"not a method of `trainforge {request.kind}`; choose "
                                     f"auto, {', '.join(methods)}")
    if isinstance(request, AnomaliesJob):
        try:
            anomaly.check_contamination(request.contamination)
        except ConfigError as error:
            raise InvalidField("contamination", str(error)) from None


def _check_columns(field: str, names: list[str | None], columns: dict[str, Any],
                   upload: StoredUpload) -> None:
    """Each of ``names`` is a column of the upload (unchecked when it has no profile)."""
    for column in names:
        if column is not None and columns and column not in columns:
            raise InvalidField(field, str(ColumnNotFound(column, upload["filename"],
                                                         list(columns), f"`{field}`")))


def _check_name(name: str | None) -> None:
    from trainforge.registry.refs import check_name

    if name is not None:
        try:
            check_name(name)
        except RegistryError as error:
            raise InvalidField("name", str(error)) from None


def check_env(field: str, env: str) -> None:
    """Only an id Gymnasium has registered: ``module:Class`` (or Gymnasium's own
    ``module:Id-v0``) would import a module a client named, in a worker of the server."""
    import importlib.util

    if importlib.util.find_spec("gymnasium") is None:  # the `trainforge[rl]` extra
        raise InvalidField(field, str(NeedsReinforcementLearning("gymnasium")))
    import gymnasium

    if ":" in env or env not in gymnasium.registry:
        raise InvalidField(field, "not a registered Gymnasium id; give one such as "
                                  "'CartPole-v1' (a module:Class environment runs only from "
                                  "`trainforge rl train` or `tf.train_agent`, on your machine)")


def _check_policy(workspace: Workspace, ref: str) -> str:
    """The environment the policy ``ref`` was trained on; InvalidField unless it is one."""
    _check_model(workspace, "model", ref)
    manifest = workspace.registry.show(ref)
    kind = manifest["task"]["kind"]
    if kind != "reinforcement":
        raise InvalidField("model", f"{ref} is a {kind} model, not a policy; replay a model "
                                    "trained with `trainforge rl train` or an rl_train job")
    return str(manifest["lineage"]["env"])


def _columns(workspace: Workspace, upload: StoredUpload) -> dict[str, dict[str, Any]]:
    """The upload's columns as its profile describes them (kind, distinct values), by name;
    empty when the upload was recorded without a profile."""
    recorded = get_dataset(workspace, upload["dataset_id"]) if upload["dataset_id"] else None
    profile: dict[str, Any] = (recorded["profile"] if recorded else None) or {}
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


def _config(config: type[C], fields: dict[str, Any]) -> C:
    try:
        return config(**fields)
    except ValidationError as error:  # a combination the fields alone could not rule out
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                             for e in error.errors())
        raise ConfigError(f"invalid settings: {problems}") from None
