"""Typed configs, one per job: CLI flags, config files and REST bodies all build them.

Each field is declared once, here: its default, its bounds and (``description``) what it means.
The server's job bodies are derived from these models (``server/job_requests.py``), and
``tests/test_train_options.py`` checks the CLI's options and the SDK's signatures against them.
A user types the budget as ``time_budget`` at every door (flag, keyword, TOML key, JSON field);
the field keeps its unit in its name, ``time_budget_s``, which stored runs use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from trainforge.errors import ConfigError

# bounds every door shares: the libraries take 32-bit seeds, and a budget or trial count past
# these is a typo, not a plan (a week of search; a hundred thousand trials)
MAX_SEED = 2**31 - 1
MAX_TIME_BUDGET_S = 7 * 24 * 3600.0
MAX_TRIALS = 100_000
MAX_WORKERS = 256  # data-parallel replicas of one network: beyond, batches split to nothing
MAX_NETWORK_EPOCHS = 10_000  # a network's epochs: the catalog's networks train 6 to 200
MAX_SEARCH_WORKERS = 1_024  # trials at once: more than a large Ray cluster's CPUs is a typo
MAX_NAME_CHARS = 200  # a column, model or algorithm name; more is not a name but a payload
MAX_COLUMNS = 10_000  # columns one may list in ``features`` or ``exclude``
MAX_SEGMENTS = 1_000  # ``k``: more segments than anyone could read
MAX_TIMESTEPS = 10**9  # environment steps: weeks of training on one machine
MAX_EPISODES = 100_000
MAX_ENV_COPIES = 1_024
# ε past this promises nothing (e^100 is no bound on what a model reveals): a typo, not a plan
MAX_DP_EPSILON = 100.0
MAX_DP_GRAD_NORM = 1_000.0
MAX_FEDERATED_IMAGE_SIDE = 64  # data.images.MAX_TRAIN_SIDE: CPU training shrinks larger images


def _not_a_bool(value: Any) -> Any:
    # lax parsing reads true as 1: `seed = true` in a file or a body is a mistake, not a seed
    if isinstance(value, bool):  # a ValueError, which pydantic reports against the field
        raise ValueError("a number is needed, not true or false")  # noqa: TRY004
    return value


Number = Annotated[float, BeforeValidator(_not_a_bool), Field(allow_inf_nan=False)]
WholeNumber = Annotated[int, BeforeValidator(_not_a_bool)]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
Seed = Annotated[WholeNumber, Field(ge=0, le=MAX_SEED, description="random seed")]
# A budget's alias, "time_budget", is its one spelling at every door (`--time-budget`,
# `time_budget=`, `time_budget = ` in TOML, "time_budget" in JSON); `populate_by_name` accepts
# the field's own name too, which stored run configs use (mypy's pydantic plugin reads it
# from the class body, and knows it by this older spelling, not `validate_by_name`)


# what training does with columns the profile finds personal data in (data/privacy_policy.py)
PiiPolicy = Literal["warn", "drop", "hash", "mask"]


# what training does with rows whose label looks wrong (jobs/label_issues.py)
LabelIssuesAction = Literal["keep", "drop", "review"]

# what --fairness-constraint equalises across the sensitive groups (jobs/fairness.py)
FairnessConstraint = Literal["demographic_parity", "equalized_odds"]
MAX_SENSITIVE_FEATURES = 5  # their intersections multiply: 5 columns of 3 groups are 243


def _comma_separated(value: Any) -> Any:
    # the CLI types `--sensitive-features sex,race`; a file or a body may give a list
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# what the training rules do when one fires while a network trains (runtime/rules.py); the
# runtime's RulesMode is the same three words (config sits below runtime, so it cannot import it)
RulesAction = Literal["warn", "stop", "off"]


# ---- model cards: the parts only a person knows (evaluation/model_card.py renders them) -------
MAX_CARD_TEXT = 5_000  # characters of one written part of a card: a page of text
MAX_CARD_CONTACT = 300  # a name, an address or a team's channel
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _card_text(value: str) -> str:
    # tabs and line breaks are the writer's layout; other control characters are not text
    if _CONTROL.search(value):
        raise ValueError("holds control characters; write plain text (line breaks are fine)")
    return value.strip()


CardText = Annotated[str, Field(max_length=MAX_CARD_TEXT), AfterValidator(_card_text)]


class TrainConfig(BaseModel):
    """Everything that decides a training run; a run can be repeated from it exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    data: str  # a file, an image folder, or a SQLAlchemy URL when ``sql`` is given
    target: Name | None = Field(
        default=None, description="the column to predict (an image folder's classes are its "
                                  "sub-folders)")
    name: Name | None = Field(default=None,
                              description="registry name (default: the data file's name)")
    # the model card's first written parts; later edits: `trainforge models card --set`
    intended_use: CardText | None = Field(
        default=None, description="the model card's intended use: the decision it supports")
    intended_users: CardText | None = Field(
        default=None, description="the model card's intended users (teams, roles, systems)")
    sql: str | None = None  # a query to run against ``data`` as a database URL
    algorithm: Name = Field(default="auto", description="a catalog name, or auto to let "
                                                        "AutoML choose")
    time_budget_s: Number = Field(default=60.0, gt=0, le=MAX_TIME_BUDGET_S, alias="time_budget",
                                  description="seconds for the whole run, report included")
    trials: WholeNumber | None = Field(
        default=None, gt=0, le=MAX_TRIALS,
        description="run exactly N search trials (reproducible on any machine) instead of a "
                    "budget")
    # one trial at a time by default: the local backend runs no more, and a Ray cluster is
    # something the user names (--search-backend ray, $TRAINFORGE_RAY_ADDRESS)
    search_workers: WholeNumber = Field(
        default=1, gt=0, le=MAX_SEARCH_WORKERS,
        description="search trials run at once, as Ray tasks of 1 CPU each (more than 1 needs "
                    "the ray search backend)")
    search_backend: Literal["auto", "local", "ray"] = Field(
        default="auto", description="where search trials run: local (one at a time, in this "
                                    "process), ray, or auto (ray when $TRAINFORGE_RAY_ADDRESS "
                                    "is set)")
    metric: Name | None = Field(default=None, description="the metric to optimise (default: "
                                                          "roc_auc, balanced_accuracy or r2)")
    seed: Seed = 0
    test_size: Number = Field(default=0.2, gt=0.0, lt=0.9, description="held-out share")
    split: Literal["stratified", "random", "group", "time"] = Field(
        default="stratified", description="how the test split is drawn")
    group_column: Name | None = Field(default=None, description="the column for split=group")
    time_column: Name | None = Field(default=None, description="the column for split=time")
    init_from: Name | None = Field(
        default=None, description="a registered network (NAME, NAME:VERSION or NAME@ALIAS) "
                                  "to start from: its backbone, a new head")
    freeze_backbone: bool = Field(default=False,
                                  description="with init_from: train only the new head")
    # 1 by default: the local loop, no Ray; more needs a Ray cluster (or starts a local Ray)
    workers: WholeNumber = Field(
        default=1, gt=0, le=MAX_WORKERS,
        description="networks: train data-parallel on N Ray Train workers (DDP; gloo on CPUs, "
                    "NCCL on GPUs); 1 trains in this process")
    # a cap, not a setting: each network keeps its own number of epochs (and trains more on
    # few rows, for 500 optimiser steps) unless that is more than this
    max_epochs: WholeNumber | None = Field(
        default=None, gt=0, le=MAX_NETWORK_EPOCHS,
        description="networks: train at most N epochs (default: each network's own, more on "
                    "small data so that it takes at least 500 optimiser steps)")
    # warn by default: a flag must not silently change what a model learns from; the run,
    # manifest and report say which columns hold what
    pii: PiiPolicy = Field(default="warn", description="columns holding personal data: warn, "
                                                       "or drop, hash or mask them before "
                                                       "training")
    # keep by default, as for --pii: a flag must not silently change which rows a model learns
    # from; the report lists the rows whatever the choice
    label_issues: LabelIssuesAction = Field(
        default="keep", description="rows whose label looks wrong (classification): keep them "
                                    "(listed in the report), drop them from the final fit, or "
                                    "review them (sent to the labeling project "
                                    "<model>-label-issues, and label-issues.csv)")
    # warn by default: a rule can misjudge an unusual but healthy run, and stopping would cost
    # the whole budget spent so far; the warning alone says what to try
    rules: RulesAction = Field(
        default="warn", description="training rules (loss NaN or not falling, exploding or "
                                    "vanishing gradients, dead ReLUs, a learning rate too high "
                                    "or low, overfitting, an ignored minority class): warn, "
                                    "stop the run, or off")
    # differential privacy (issue 16): DP-SGD for networks (runtime.dp_sgd); off by default,
    # as it costs accuracy and only networks learn under it
    dp_epsilon: Number | None = Field(
        default=None, gt=0.0, le=MAX_DP_EPSILON,
        description="train networks with DP-SGD (Opacus) spending at most this ε per trained "
                    "model (smaller: more private, noisier); only networks are candidates")
    dp_delta: Number | None = Field(
        default=None, gt=0.0, lt=1.0,
        description="with dp_epsilon: the δ of (ε, δ) (default: 1e-5, or 0.1/n when smaller; "
                    "must be below 1/n for n training rows)")
    dp_max_grad_norm: Number = Field(
        default=1.0, gt=0.0, le=MAX_DP_GRAD_NORM,
        description="with dp_epsilon: each row's gradient is clipped to this norm before the "
                    "noise is added")
    # fairness (issue 14): assessed per group on the test split; the columns stay features by
    # default, as a flag must not silently change what a model learns from (Fairlearn's
    # estimators take them apart from X, and so may the user: sensitive_as_features=false)
    sensitive_features: Annotated[tuple[Name, ...], BeforeValidator(_comma_separated)] = Field(
        default=(), max_length=MAX_SENSITIVE_FEATURES,
        description="columns whose groups the model is assessed across (e.g. sex,race): "
                    "size, selection rate, error rates per group and their intersections")
    sensitive_as_features: bool = Field(
        default=True, description="with sensitive_features: let the model learn from those "
                                  "columns too (false: assess them only)")
    fairness_constraint: FairnessConstraint | None = Field(
        default=None, description="binary classification: equalise demographic_parity or "
                                  "equalized_odds across the sensitive groups with per-group "
                                  "thresholds (predictions then need the sensitive columns)")
    # exact parity can cost more accuracy than a user would pay (adult: 2.3 points for a
    # difference of 0.02); Fairlearn's `tol` bounds the difference instead
    fairness_tolerance: Number | None = Field(
        default=None, gt=0.0, lt=1.0,
        description="with fairness_constraint demographic_parity: the largest difference in "
                    "selection rate allowed between groups (default: none, exact parity)")

    @model_validator(mode="after")
    def _privacy_needs_epsilon(self) -> TrainConfig:
        if self.dp_delta is not None and self.dp_epsilon is None:
            raise ValueError("dp_delta is the δ of a (ε, δ) budget: give dp_epsilon too "
                             "(e.g. 3), or leave dp_delta out")
        if self.dp_epsilon is not None and self.workers > 1:
            raise ValueError("DP-SGD trains a network in one process here: leave workers at "
                             "1 with dp_epsilon")
        return self

    @model_validator(mode="after")
    def _constraint_needs_groups(self) -> TrainConfig:
        if self.fairness_constraint is not None and not self.sensitive_features:
            raise ValueError(f"fairness_constraint {self.fairness_constraint} needs the groups "
                             "it equalises: give sensitive_features too (e.g. sex)")
        if (self.fairness_tolerance is not None
                and self.fairness_constraint != "demographic_parity"):
            raise ValueError("fairness_tolerance relaxes fairness_constraint "
                             "demographic_parity (Fairlearn cannot relax equalized_odds); "
                             "give that constraint, or leave the tolerance out")
        return self


class PredictConfig(BaseModel, frozen=True, extra="forbid"):
    model: str  # NAME, NAME:VERSION or NAME@ALIAS
    # a path; with backend "ray" also s3://bucket/prefix (or a glob) of shards
    input: str = Field(min_length=1, max_length=2000)
    output: str = Field(min_length=1, max_length=2000)
    chunk_rows: PositiveInt = 50_000
    # local: one file in, one file out, in this process; ray: shards predicted by Ray Data
    # into a folder (or s3:// prefix) of shards and a manifest
    backend: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(default=None, max_length=500)  # None: this machine's
    # --explain: each row's top contributions, this many (None: no explanations); bounded as
    # the served ?top_k= is (serving.explain.MAX_TOP_K)
    explain_top_k: int | None = Field(default=None, ge=1, le=50)


# records one prediction request may hold: 10,000 adult rows are validated and predicted in
# ~0.2 s on one busy core (benchmarks/RESULTS.md, "Hostile input"); bigger batches are files
MAX_RECORDS = 10_000


class ServeConfig(BaseModel, frozen=True, extra="forbid"):
    models: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_records: PositiveInt = MAX_RECORDS  # per request; more is a 413 saying to split
    # the prediction log (monitoring.prediction_log): on by default, as monitoring, feedback
    # and retraining all start from it; `none` for a model whose inputs must not be kept
    log: str = Field(default="all", max_length=40,
                     description="all, none or sample:RATE (e.g. sample:0.1)")
    log_exclude: tuple[str, ...] = ()  # input columns never written
    log_hash: tuple[str, ...] = ()  # input columns written as a keyed hash
    # a month of predictions covers a monthly cycle, the longest window the monitor compares
    log_retention_days: PositiveInt = 30


Columns = tuple[Name, ...]


class ClusterConfig(BaseModel):
    """A clustering run: segments of a table's rows, with no target."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    data: str  # a file, or a SQLAlchemy URL when ``sql`` is given
    name: Name | None = Field(default=None, description="registry name (default: the data "
                                                        "file's name + '-segments')")
    sql: str | None = None
    features: Columns | None = Field(default=None, max_length=MAX_COLUMNS,
                                     description="the columns to compare rows by (default: all)")
    exclude: Columns = Field(default=(), max_length=MAX_COLUMNS,
                             description="columns to leave out (a label, an id)")
    method: Name = Field(default="auto",
                         description="auto, kmeans, gmm, agglomerative or hdbscan")
    k: WholeNumber | None = Field(default=None, gt=0, le=MAX_SEGMENTS,
                                  description="the number of segments (default: chosen on the "
                                              "data, 2 to 10)")
    time_budget_s: Number = Field(default=60.0, gt=0, le=MAX_TIME_BUDGET_S, alias="time_budget",
                                  description="seconds for comparing methods and numbers of "
                                              "segments")
    seed: Seed = 0


class AnomalyConfig(BaseModel, frozen=True, extra="forbid"):
    """An anomaly run: a score per row of a table, and the rows that stand out."""

    data: str
    name: Name | None = Field(default=None, description="registry name (default: the data "
                                                        "file's name + '-anomalies')")
    sql: str | None = None
    features: Columns | None = Field(default=None, max_length=MAX_COLUMNS,
                                     description="the columns to compare rows by (default: all)")
    exclude: Columns = Field(default=(), max_length=MAX_COLUMNS,
                             description="columns to leave out (a label, an id)")
    method: Name = Field(default="auto",
                         description="auto, lof, isolation_forest or robust_covariance")
    # its range, (0, 0.5], is checked where it is used (``anomaly.check_contamination``)
    contamination: Number | Literal["auto"] = Field(
        default="auto", description="'auto', or the expected share of anomalies in (0, 0.5]")
    top: WholeNumber = Field(default=10, gt=0, le=MAX_EPISODES,
                             description="anomalies described in the output and the report")
    seed: Seed = 0


COST_RATE_ENV = "TRAINFORGE_COST_PER_CPU_HOUR"  # the rate, for the CLI as for the server
COST_CURRENCY_ENV = "TRAINFORGE_COST_CURRENCY"
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="an ISO 4217 code: USD, EUR")]


class CostRate(BaseModel, frozen=True, extra="forbid"):
    """What a CPU-hour costs, in ``currency``: the money shown beside CPU-seconds."""

    per_cpu_hour: Number = Field(ge=0)
    currency: Currency = "USD"

    def cost(self, cpu_s: float | None) -> float | None:
        """The cost of ``cpu_s`` CPU-seconds (None when they were not recorded)."""
        return None if cpu_s is None else cpu_s / 3600.0 * self.per_cpu_hour

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CostRate | None:
        """The rate ``$TRAINFORGE_COST_PER_CPU_HOUR`` (and ``$TRAINFORGE_COST_CURRENCY``)
        set; None when the rate is unset or empty."""
        rate = environ.get(COST_RATE_ENV, "").strip()
        if not rate:
            return None
        currency = environ.get(COST_CURRENCY_ENV, "").strip() or "USD"
        try:
            return cls(per_cpu_hour=float(rate), currency=currency)
        except (ValueError, ValidationError):
            raise ConfigError(f"${COST_RATE_ENV}={rate[:40]!r} with currency {currency[:10]!r} "
                              "is not a cost rate: set a number ≥ 0 (money per CPU-hour, "
                              "e.g. 0.05) and a three-letter currency (USD, EUR)") from None


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
    # what a CPU-hour costs: jobs, runs and deployments then show money beside CPU-seconds
    # (None: no money shown, since no rate is right for every machine)
    cost_per_cpu_hour: Number | None = Field(default=None, ge=0)
    cost_currency: Currency = "USD"

    @property
    def cost_rate(self) -> CostRate | None:
        """The configured rate, or None when no cost is to be shown."""
        if self.cost_per_cpu_hour is None:
            return None
        return CostRate(per_cpu_hour=self.cost_per_cpu_hour, currency=self.cost_currency)

    # how often the retraining policies are checked: a minute is well under any sensible
    # min_interval (default 1h), and a check reads only the store and the day's log files
    policy_check_s: float = Field(default=60.0, gt=0)
    # who runs the queued jobs: worker processes on this machine, or tasks on a Ray cluster
    # (the local path never imports Ray)
    backend: Literal["local", "ray"] = "local"
    # with backend "ray": auto (the cluster started on this machine), HOST:PORT or
    # ray://HOST:PORT; None is "auto"
    ray_address: str | None = Field(default=None, max_length=500)


class RLTrainConfig(BaseModel, frozen=True, extra="forbid"):
    """Everything that decides a reinforcement-learning run; a run is repeated from it."""

    env: Name = Field(description="a Gymnasium id (CartPole-v1), or module:Class for your own "
                                  "environment")
    algo: Name | None = Field(default=None, description="PPO, A2C, DQN, SAC or TD3 (default: "
                                                        "one for the action space)")
    timesteps: WholeNumber = Field(default=100_000, gt=0, le=MAX_TIMESTEPS,
                                   description="environment steps in all, every copy counted")
    name: Name | None = Field(default=None, description="registry name (default: the "
                                                        "environment id, lower-cased)")
    seed: Seed = 0
    n_envs: WholeNumber | None = Field(default=None, gt=0, le=MAX_ENV_COPIES,
                                       description="environment copies stepped together "
                                                   "(default: the algorithm's)")
    search_trials: WholeNumber | None = Field(
        default=None, gt=0, le=MAX_TRIALS,
        description="first search this many settings of the algorithm (short runs)")
    episodes: WholeNumber = Field(default=20, gt=0, le=MAX_EPISODES,
                                  description="evaluation episodes (mean ± std return)")
    checkpoint_every: PositiveInt = 10_000  # timesteps; a kill loses at most this many


# ---- federated learning ---------------------------------------------------------------------
MAX_CLIENTS = 1_000  # processes on one machine: more is a typo
MAX_ROUNDS = 10_000
# a host name or an IPv4 address, then a port; wildcards bind every interface but name none
# a holder could dial
_LISTEN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})")
WILDCARD_HOSTS = ("0.0.0.0",)


def _listen_address(text: str) -> str:
    """``HOST:PORT`` the coordinator binds and holders dial: a host name or IPv4 address, and
    a port 1-65535."""
    found = _LISTEN.fullmatch(text.strip())
    if found is None or not 0 < int(found[2]) < 65_536:
        raise ValueError(f"{text!r} is not HOST:PORT, a host name or IPv4 address and a port "
                         "from 1 to 65535 (e.g. 10.0.0.5:9092, coordinator.example.org:9092)")
    if found[1] in WILDCARD_HOSTS:
        raise ValueError(f"{found[1]} binds every interface but is no address a holder can "
                         "dial; give this machine's address or name")
    return f"{found[1]}:{int(found[2])}"


ListenAddress = Annotated[str, Field(max_length=300), AfterValidator(_listen_address)]


class FederationTraining(BaseModel, frozen=True, extra="forbid"):
    """How every federation trains, simulated or coordinated: its rounds and each client's
    local step (the settings ``FederationPlan`` carries to the processes)."""

    rounds: WholeNumber = Field(default=10, gt=0, le=MAX_ROUNDS)
    strategy: Literal["auto", "fedavg", "fedprox", "fedavgm"] = Field(
        default="auto", description="how the coordinator combines the updates; auto: FedAvgM "
                                    "from 20 rounds on, else FedAvg (trees: bagged)")
    proximal_mu: float = Field(default=0.1, ge=0.0, le=1_000.0,
                               description="FedProx's pull towards the global model")
    # 0.7 held on four suite tables and MNIST where 0.9 overshot (benchmarks/RESULTS.md)
    server_momentum: float = Field(default=0.7, ge=0.0, lt=1.0,
                                   description="FedAvgM's momentum on the coordinator")
    local_epochs: WholeNumber = Field(default=1, gt=0, le=1_000,
                                      description="passes over its rows a client makes a round")
    batch_size: WholeNumber = Field(default=32, gt=0, le=1_000_000)
    learning_rate: float = Field(default=0.1, gt=0.0, le=10.0)
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0,
                             description="the share of its rows each holder holds out")
    round_timeout_s: float = Field(default=600.0, gt=0.0, le=MAX_TIME_BUDGET_S)
    seed: Seed = 0


    def strategy_settings(self) -> dict[str, Any]:
        """What ``FederationPlan`` takes of these settings (through ``planned_strategy``,
        which settles "auto" once the model is known): every one the strategy uses, and zero
        for the pull and the momentum of a strategy without them."""
        momentum = self.strategy in ("fedavgm", "auto")
        return {"strategy": self.strategy, "rounds": self.rounds,
                "proximal_mu": self.proximal_mu if self.strategy == "fedprox" else 0.0,
                "server_momentum": self.server_momentum if momentum else 0.0,
                "local_epochs": self.local_epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "seed": self.seed,
                "test_size": self.test_size, "round_timeout_s": self.round_timeout_s}


class FederatedSimulationConfig(FederationTraining, frozen=True, extra="forbid"):
    """Everything that decides a simulated federation: one table split between holders."""

    data: str = Field(description="the table to split between the simulated holders")
    target: Name = Field(description="the column to predict")
    name: Name | None = Field(default=None, description="registry name (default: the file's "
                                                        "stem, then -federated)")
    clients: WholeNumber = Field(default=3, ge=2, le=MAX_CLIENTS,
                                 description="data holders, each a client process")
    min_clients: WholeNumber | None = Field(
        default=None, ge=1, le=MAX_CLIENTS,
        description="rounds go on while this many clients are left (default: all of them); "
                    "a client that fails is then left out of the rounds after it")
    partition: Name = Field(default="iid", description="iid, dirichlet:ALPHA or "
                                                       "by-column:COLUMN")
    secure_aggregation: bool = Field(
        default=False, description="Flower's SecAgg+: the coordinator learns only the sum of "
                                   "the clients' updates, never one of them")
    model: Literal["auto", "linear", "mlp", "cnn", "xgboost"] = Field(
        default="auto", description="what the federation learns: linear, mlp, xgboost "
                                    "(tables; xgboost: trees bagged across holders), cnn (an "
                                    "image folder); auto: cnn for images, else linear")
    image_size: WholeNumber = Field(default=0, ge=0, le=MAX_FEDERATED_IMAGE_SIDE,
                                    description="with cnn: pixels per side the images are "
                                                "resized to (0: as they are, up to 64)")
    # central differential privacy (issue 16): each client's update clipped, Gaussian noise on
    # their average, calibrated so the planned rounds spend (ε, δ) per client
    dp_epsilon: Number | None = Field(
        default=None, gt=0.0, le=MAX_DP_EPSILON,
        description="central DP: the ε the planned rounds spend, per client (user-level)")
    dp_delta: Number | None = Field(
        default=None, gt=0.0, lt=1.0,
        description="with dp_epsilon: the δ of (ε, δ) (default: 1e-5, or 0.1/clients when "
                    "smaller; must be below 1/clients)")
    dp_max_grad_norm: Number = Field(
        default=1.0, gt=0.0, le=MAX_DP_GRAD_NORM,
        description="with dp_epsilon: each client's update (its weights minus the round's "
                    "global weights) is clipped to this L2 norm before the noise is added")

    @model_validator(mode="after")
    def _privacy_needs_epsilon(self) -> FederatedSimulationConfig:
        if self.dp_delta is not None and self.dp_epsilon is None:
            raise ValueError("dp_delta is the δ of a (ε, δ) budget: give dp_epsilon too "
                             "(e.g. 3), or leave dp_delta out")
        return self


class FederationConfig(FederationTraining, frozen=True, extra="forbid"):
    """A federation the server coordinates: its name (also the registered model's), what it
    learns and how; the holders bring their own tables when they join."""

    # a registry name: it becomes a directory, so never "." or ".." or ending in "."
    name: str = Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,98}[A-Za-z0-9_-])?$",
                      description="the federation's name, and the registered model's")
    target: Name = Field(description="the column to predict")
    min_clients: WholeNumber = Field(default=3, ge=1, le=MAX_CLIENTS,
                                     description="holders that must join before the rounds "
                                                 "start; a client token is made for each")
    join_timeout_s: float = Field(default=600.0, gt=0.0, le=MAX_TIME_BUDGET_S,
                                  description="the federation fails when fewer than "
                                              "min_clients have joined after this long")
    model: Literal["auto", "linear", "mlp", "xgboost"] = Field(  # a model family per choice
        default="auto", description="what the federation learns: linear, mlp (a network on "
                                    "the same encoding), xgboost (trees bagged across the "
                                    "holders); auto: linear")
    listen: ListenAddress | None = Field(
        default=None, description="HOST:PORT the coordinator binds and the holders dial "
                                  "(default: 127.0.0.1 and a free port, this machine only)")
    tls: bool = Field(default=False, description="the coordinator speaks TLS, with the "
                                                 "certificates given when it was created")

# ---- continuous learning: when and on what a deployed model is retrained --------------------
_DURATION = re.compile(r"(\d{1,6})([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MAX_RETRAIN_ROWS = 10_000_000  # latest:N past this is a typo


def duration_s(text: str) -> float:
    """Seconds in a duration as the policy writes it: ``90s``, ``30m``, ``12h``, ``7d``, ``2w``."""
    found = _DURATION.fullmatch(text.strip())
    if found is None or int(found[1]) == 0:
        raise ValueError(f"{text!r} is not a duration; write a whole number above 0 and a unit "
                         "(s, m, h, d or w), e.g. 12h or 7d")
    return float(int(found[1]) * _UNIT_S[found[2]])


def _duration(text: str) -> str:
    duration_s(text)
    return text.strip()


def _train_on(text: str) -> str:
    text = text.strip()
    kind, _, value = text.partition(":")
    if text == "original+feedback":
        return text
    if kind == "window" and value:
        return f"window:{_duration(value)}"
    if kind == "latest" and value.isdigit() and 0 < int(value) <= MAX_RETRAIN_ROWS:
        return f"latest:{int(value)}"
    raise ValueError(f"{text!r} is not original+feedback, window:DURATION (e.g. window:30d) "
                     f"or latest:N (N from 1 to {MAX_RETRAIN_ROWS:,})")


Duration = Annotated[str, Field(max_length=20), AfterValidator(_duration)]
TrainOn = Annotated[str, Field(max_length=40), AfterValidator(_train_on)]


class RetrainPolicy(BaseModel):
    """When a model is retrained on its feedback, on what, and how often at most. Any trigger
    that is set may fire; none set: it is retrained only when asked (`policy check --now`).
    Its range of ``metric_floor`` depends on the model's metric and is checked against it
    (``monitoring.retrain.check_policy``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    drifted_features: WholeNumber | None = Field(
        default=None, ge=1, le=MAX_COLUMNS,
        description="retrain when at least this many features drift in the latest window")
    metric_floor: Number | None = Field(
        default=None, description="retrain when the model's metric on labelled feedback is "
                                  "worse than this (below it; above it for an error such as "
                                  "rmse)")
    new_labels: WholeNumber | None = Field(
        default=None, ge=1, le=MAX_RETRAIN_ROWS,
        description="retrain once this many labels arrived since the model was trained")
    every: Duration | None = Field(default=None, description="retrain on a schedule: 12h, 7d")
    train_on: TrainOn = Field(
        default="original+feedback",
        description="original+feedback (the training data plus the labelled feedback), "
                    "window:30d (the feedback of the last 30 days) or latest:N (the N newest "
                    "labelled rows)")
    feedback_only_if_original_gone: bool = Field(
        default=False, description="with original+feedback: train on the feedback alone when "
                                   "the original training data is gone or changed (else "
                                   "refuse)")
    min_interval: Duration = Field(default="1h", description="never retrain more often")
    max_cpu_hours_per_day: Number | None = Field(
        default=None, gt=0, le=24 * 1024,
        description="cost cap: CPU-hours this model's retrains may use per day (UTC)")
    enabled: bool = Field(default=True, description="whether the server checks it")
    # retrain by default: a fresh search suits any model; update only continues the ones
    # that can learn more (online_linear, lightgbm), and never revisits its algorithms
    learn: Literal["retrain", "update", "windows"] = Field(
        default="retrain",
        description="what a trigger does: retrain (an ordinary training job), update "
                    "(continue the model on its new labels: `trainforge update`) or windows "
                    "(`trainforge update --method windows`: follow a drifting stream)")
    time_budget_s: Number = Field(default=60.0, gt=0, le=MAX_TIME_BUDGET_S, alias="time_budget",
                                  description="seconds for each retraining run")
    trials: WholeNumber | None = Field(
        default=None, gt=0, le=MAX_TRIALS,
        description="run exactly N search trials (reproducible) instead of a budget")
    seed: Seed = 0


MAX_UPDATE_ROUNDS = 10_000  # boosting rounds one update may add


class UpdateConfig(BaseModel, frozen=True, extra="forbid"):
    """`trainforge update`: continue a model on the labelled feedback of its deployments."""

    model: Name = Field(description="the model to update: NAME (its latest version), "
                                    "NAME:VERSION or NAME@ALIAS")
    since: datetime | None = Field(
        default=None, description="learn from predictions logged after this time (UTC); "
                                  "default: those after the rows the version learned last")
    # one tree per update: on elec2 with a day's 48 labels a batch, +1 tree kept 0.768
    # prequential accuracy where +5 fell to 0.528 and +20 to 0.620 (NOTES-online.md)
    rounds: WholeNumber = Field(default=1, ge=1, le=MAX_UPDATE_ROUNDS,
                                description="boosting rounds to add to a LightGBM member")
    # continue by default: it is cheap and keeps what the model learned; windows refits
    # (training.windows) and follows a stream whose recent past matters most
    method: Literal["continue", "windows"] = Field(
        default="continue",
        description="continue (the members that can learn more, on the new labels) or "
                    "windows (the model's pipeline refitted on nested windows of the newest "
                    "rows, training data then feedback, blended by their score on the newest)")


class ModelCardEdit(BaseModel, frozen=True, extra="forbid"):
    """A change to the written parts of a model version's card (`trainforge models card NAME
    --set FIELD=TEXT`, ``PATCH /api/v1/models/{name}/versions/{version}/card``): a field left
    out stays as it is; "" (or null) clears it."""

    intended_use: CardText | None = Field(
        default=None, description="what the model is for: the decision it supports")
    intended_users: CardText | None = Field(
        default=None, description="who should use it (teams, roles, systems)")
    out_of_scope_uses: CardText | None = Field(
        default=None, description="uses it was not made or checked for")
    ethical_considerations: CardText | None = Field(
        default=None, description="whom it may harm or treat unequally, and how that is "
                                  "watched")
    caveats_and_recommendations: CardText | None = Field(
        default=None, description="what a user should know or do before relying on it")
    contact: Annotated[str, Field(max_length=MAX_CARD_CONTACT),
                       AfterValidator(_card_text)] | None = Field(
        default=None, description="who answers questions about it")

    def changes(self) -> dict[str, str]:
        """Field → new text for every field the edit names ("" clears it)."""
        return {name: value or "" for name, value in self.model_dump(exclude_unset=True).items()}
