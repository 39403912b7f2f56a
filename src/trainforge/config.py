"""Typed configs, one per job: CLI flags, config files and REST bodies all build them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PositiveInt

# bounds every door shares: the libraries take 32-bit seeds, and a budget or trial count past
# these is a typo, not a plan (a week of search; a hundred thousand trials)
MAX_SEED = 2**31 - 1
MAX_TIME_BUDGET_S = 7 * 24 * 3600.0
MAX_TRIALS = 100_000


class TrainConfig(BaseModel, frozen=True, extra="forbid"):
    """Everything that decides a training run; a run can be repeated from it exactly."""

    data: str  # a file, an image folder, or a SQLAlchemy URL when ``sql`` is given
    target: str | None = None  # required for tables; an image folder's is its class folders
    name: str | None = None  # registry name; defaults to the data file's stem
    sql: str | None = None  # a query to run against ``data`` as a database URL
    algorithm: str = "auto"  # a catalog name, or "auto" to let AutoML choose
    time_budget_s: float = Field(default=60.0, gt=0, le=MAX_TIME_BUDGET_S)
    # fixed trial count: same seed, same model on any machine
    trials: PositiveInt | None = Field(default=None, le=MAX_TRIALS)
    metric: str | None = None  # defaults to the task's (roc_auc, balanced_accuracy, r2)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    test_size: float = Field(default=0.2, gt=0.0, lt=0.9)
    split: Literal["stratified", "random", "group", "time"] = "stratified"
    group_column: str | None = None  # for split="group"
    time_column: str | None = None  # for split="time"
    init_from: str | None = None  # NAME[:VERSION|@ALIAS] of a registered network to start from
    freeze_backbone: bool = False  # with init_from: train only the new head


class ResumeConfig(BaseModel, frozen=True, extra="forbid"):
    """Continue an interrupted training run from its checkpoints."""

    run_id: str
    time_budget_s: float | None = Field(default=None, gt=0)  # default: the run's own budget


class PredictConfig(BaseModel, frozen=True, extra="forbid"):
    model: str  # NAME, NAME:VERSION or NAME@ALIAS
    input: Path
    output: Path
    chunk_rows: PositiveInt = 50_000


# records one prediction request may hold: 10,000 adult rows are validated and predicted in
# ~0.2 s on one busy core (benchmarks/RESULTS.md, "Hostile input"); bigger batches are files
MAX_RECORDS = 10_000


class ServeConfig(BaseModel, frozen=True, extra="forbid"):
    models: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_records: PositiveInt = MAX_RECORDS  # per request; more is a 413 saying to split


class ClusterConfig(BaseModel, frozen=True, extra="forbid"):
    """A clustering run: segments of a table's rows, with no target."""

    data: str  # a file, or a SQLAlchemy URL when ``sql`` is given
    name: str | None = None  # registry name; defaults to "<data stem>-segments"
    sql: str | None = None
    features: tuple[str, ...] | None = None  # the columns to compare rows by; default: all
    exclude: tuple[str, ...] = ()  # columns to leave out (a label, an id the sniffer missed)
    method: str = "auto"  # "auto", "kmeans", "gmm", "agglomerative" or "hdbscan"
    k: PositiveInt | None = None  # the number of segments; default: chosen on the data (2-10)
    time_budget_s: float = Field(default=60.0, gt=0)
    seed: int = 0


class AnomalyConfig(BaseModel, frozen=True, extra="forbid"):
    """An anomaly run: a score per row of a table, and the rows that stand out."""

    data: str
    name: str | None = None  # registry name; defaults to "<data stem>-anomalies"
    sql: str | None = None
    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    method: str = "auto"  # "auto", "lof", "isolation_forest" or "robust_covariance"
    contamination: float | Literal["auto"] = "auto"  # expected share of anomalies, (0, 0.5]
    top: PositiveInt = 10  # anomalies described in the output and the report
    seed: int = 0


class ServerConfig(BaseModel, frozen=True, extra="forbid"):
    """`trainforge server`: the platform (REST API, web UI, jobs, deployed models)."""

    host: str = "127.0.0.1"  # 0.0.0.0 exposes it to the network: a decision, not a default
    port: int = Field(default=8080, ge=0, le=65535)
    workers: PositiveInt = 2  # background jobs that may run at once
    max_upload_mb: float = Field(default=500.0, gt=0)  # a bigger upload is refused mid-stream
    max_records: PositiveInt = MAX_RECORDS  # per prediction request; more is a 413
    # what an upload may expand to (gzip, bz2, xz, zip, Excel, Parquet): compression never lets
    # a client past what a plain upload could send
    max_table_mb: float = Field(default=500.0, gt=0)
    max_table_rows: PositiveInt = 1_000_000  # rows in an uploaded table, of any format
    heartbeat_s: float = Field(default=5.0, gt=0)  # how often a worker says it is alive
    stale_after_s: float = Field(default=30.0, gt=0)  # silence after which a job is requeued


class RLTrainConfig(BaseModel, frozen=True, extra="forbid"):
    """Everything that decides a reinforcement-learning run; a run is repeated from it."""

    env: str  # a Gymnasium id ("CartPole-v1") or "module:Class" for the user's own environment
    algo: str | None = None  # PPO, A2C, DQN, SAC or TD3; None picks one for the action space
    timesteps: PositiveInt = 100_000  # environment steps in all, every copy counted
    name: str | None = None  # registry name; defaults to the env id, lower-cased
    seed: int = 0
    n_envs: PositiveInt | None = None  # environment copies stepped together; None: the default
    search_trials: PositiveInt | None = None  # a short search over the settings first
    episodes: PositiveInt = 20  # evaluation episodes (mean ± std return)
    checkpoint_every: PositiveInt = 10_000  # timesteps; a kill loses at most this many
