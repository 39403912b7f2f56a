"""Federations the server coordinates: create one, make its client tokens, admit a holder that
joins, and say where one stands. The CLI, the REST API and the web page call these.

    created = create_federation(config, declare_from_sample("site-a.csv", "class"),
                                workspace=ws, created_by="ana")
    created.tokens  # one client token per expected holder, shown this once

The federation's schema is declared from a sample table the coordinator holds: the columns
every holder's table must have, with their kinds, and for classification the classes. A holder
joins with a summary of its table (``summarize``: its columns and their kinds, the classes it
has, its row count; never a row), which ``join_federation`` checks against the declaration,
naming each difference. The coordinator job (``jobs.coordinate``) then runs the rounds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainforge.config import FederationConfig
from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.declared_schema import DeclaredSchema
from trainforge.data.limits import NO_LIMITS, TableLimits
from trainforge.data.read import read_table
from trainforge.data.task_kind import TaskKind
from trainforge.errors import ConfigError, FederationFailed, InvalidField, JoinRefused
from trainforge.federated.environment import flower_python, venv_path
from trainforge.federated.partition import MIN_CLIENT_ROWS
from trainforge.federated.plan import FederationPlan, check_tree_settings, planned_strategy
from trainforge.federated.processes import register_holder
from trainforge.jobs.federation_keys import check_public_key
from trainforge.jobs.federation_tls import CoordinatorTls, saved_certificates
from trainforge.store import access
from trainforge.store import federations as store
from trainforge.store import jobs as job_store
from trainforge.store.federations import FederationRecord
from trainforge.workspace import Workspace

JOB_KIND = "federation"  # the coordinator job's kind in the queue
MAX_SHOWN = 10  # names quoted in one difference


@dataclass(frozen=True)
class FederationSchema:
    """What a federation expects of a holder's table: every column the sample had, with its
    kind (``columns``), and the declared encoding of the features and the task (``declared``)."""

    declared: DeclaredSchema
    columns: dict[str, str]  # column → ColumnKind value, as the sample showed them
    notes: tuple[str, ...] = ()  # what declaring left out, and why

    def to_dict(self) -> dict[str, Any]:
        return {"declared": self.declared.to_dict(), "columns": dict(self.columns)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FederationSchema:
        return cls(declared=DeclaredSchema.from_dict(dict(raw["declared"])),
                   columns={str(k): str(v) for k, v in raw["columns"].items()})


@dataclass(frozen=True)
class CreatedFederation:
    record: FederationRecord
    tokens: list[str]  # the client tokens, shown this once
    notes: tuple[str, ...]


def declare_from_sample(sample: str | Path, target: str, *,
                        limits: TableLimits = NO_LIMITS) -> FederationSchema:
    """The federation's schema as a sample table shows it (the coordinator's own rows)."""
    from trainforge.data.declared_schema import declare_schema
    from trainforge.data.targets import clean_target, feature_columns, infer_task

    dataset = read_table(sample, limits=limits)
    task = infer_task(dataset, target)
    frame, _ = clean_target(dataset, task)
    features = feature_columns(dataset.schema, task.target, frame=frame, source=dataset.source)
    notes: list[str] = []
    declared = declare_schema(frame, task, schema=dataset.schema, features=features,
                              notes=notes)
    return FederationSchema(declared=declared, notes=tuple(notes),
                            columns={name: kind.value for name, kind in dataset.schema.items()})


def check_schema(schema: FederationSchema) -> FederationSchema:
    """``schema`` if it can be learned (a schema given as JSON): its metric fits its task, a
    classification has two classes at least, and every declared column is a column; else
    ConfigError naming the field."""
    from trainforge.data.metrics import get_metric

    declared = schema.declared
    task = declared.task
    if not (task.kind.is_classification or task.kind is TaskKind.REGRESSION):
        raise InvalidField("schema.declared.task.kind", f"a federation learns binary, "
                           f"multiclass or regression tasks, not {task.kind.value}")
    get_metric(task.metric, task.kind)
    if task.kind.is_classification and len(set(task.classes)) < 2:
        raise InvalidField("schema.declared.task.classes", "a classification needs two "
                           "classes at least")
    unlisted = [name for name in [task.target, *declared.features]
                if name not in schema.columns]
    if unlisted:
        raise InvalidField("schema.columns", f"lacks the declared column(s) {_names(unlisted)}")
    return schema


def create_federation(config: FederationConfig, schema: FederationSchema, *,
                      workspace: Workspace, created_by: str | None,
                      tls: CoordinatorTls | None = None) -> CreatedFederation:
    """Record the federation, keep its coordinator's TLS files (``tls``, given exactly when
    ``config.tls``), make a client token per expected holder and queue its coordinator job.
    FederationExists when the name is taken; ConfigError for a strategy the model cannot
    take (trees are bagged, never averaged with FedProx's or FedAvgM's)."""
    if config.tls != (tls is not None):
        raise InvalidField("tls", "a coordinator speaks TLS exactly when its certificate, "
                                  "private key and CA certificate are given")
    check_tree_settings(config.model, strategy=config.strategy, secure_aggregation=False,
                        dp_epsilon=None)
    target = schema.declared.task.target
    if target != config.target:
        raise ConfigError(f"the schema predicts {target!r}, not --target {config.target!r}; "
                          "declare it again with the right target")
    if not schema.declared.columns:
        raise ConfigError("the schema declares no feature the federation can learn from (it "
                          "takes numbers, booleans and categories); check the sample table")
    if tls is not None:
        tls.check()
    store.create_federation(workspace, name=config.name, settings=config.model_dump(),
                            schema=schema.to_dict(), created_by=created_by)
    if tls is not None:
        tls.save(workspace, config.name)
    tokens = [make_client_token(workspace, config.name, created_by=created_by)
              for _ in range(config.min_clients)]
    job_id = job_store.submit_job(workspace, kind=JOB_KIND, config={"federation": config.name},
                                  submitted_by=created_by)
    store.update_federation(workspace, config.name, job_id=job_id)
    return CreatedFederation(record=store.get_federation(workspace, config.name),
                             tokens=tokens, notes=(*schema.notes, who_takes_part(config.tls)))


def who_takes_part(speaks_tls: bool) -> str:
    """Which holders' SuperNodes the coordinator lets into its rounds, said where a user
    looks (create's answer, the coordinator's log): without TLS, Flower checks none."""
    if speaks_tls:
        return ("only the holders who join with a client token take part in the rounds: the "
                "coordinator speaks TLS and admits a holder's SuperNode by the key registered "
                "at its join")
    return ("without TLS Flower cannot authenticate the holders' SuperNodes: any that reaches "
            "the coordinator's address may take part in the rounds; keep it on this machine "
            "or the holders' network, or give --ssl-certfile, --ssl-keyfile and "
            "--ssl-ca-certfile")


def make_client_token(workspace: Workspace, name: str, *, created_by: str | None) -> str:
    """A new client token of federation ``name``, named ``NAME-client-K``; shown once."""
    store.get_federation(workspace, name)  # FederationNotFound before a token is made
    given = [t for t in access.list_tokens(workspace) if t["federation"] == name]
    token, _ = access.create_token(workspace, name=f"{name}-client-{len(given) + 1}",
                                   role="client", created_by=created_by, federation=name)
    return token


def summarize(dataset: Dataset, schema: FederationSchema) -> dict[str, Any]:
    """What a holder tells the federation of its table: its columns and their kinds, the
    classes of the target (classification) and how many rows have a target. No row leaves."""
    from trainforge.data.targets import label_text

    task = schema.declared.task
    columns = {name: kind.value for name, kind in dataset.schema.items()}
    if task.target not in dataset.frame:
        return {"columns": columns, "classes": [], "n_rows": 0}
    labels = label_text(dataset.frame, task.target).dropna()
    classes = sorted(str(label) for label in labels.unique()) \
        if task.kind.is_classification else []
    return {"columns": columns, "classes": classes, "n_rows": len(labels)}


def differences(schema: FederationSchema, summary: Mapping[str, Any]) -> list[str]:
    """Each way a holder's table (as ``summary`` describes it) differs from the federation's:
    a missing or extra column, a feature of another kind, a class the federation lacks, too
    few rows. Empty when it fits."""
    declared, given = schema.declared, dict(summary["columns"])
    found = []
    missing = [name for name in schema.columns if name not in given]
    extra = [name for name in given if name not in schema.columns]
    if missing:
        found.append(f"missing column(s) {_names(missing)}")
    if extra:
        found.append(f"extra column(s) {_names(extra)} the federation does not have")
    for column in declared.columns:
        kind = given.get(column.name)
        expected = ColumnKind(schema.columns.get(column.name, column.kind.value))
        if kind is not None and kind != expected.value:
            found.append(f"column {column.name!r} is {kind}, the federation's is "
                         f"{expected.value}")
    if declared.task.kind.is_classification:
        unknown = sorted(set(summary["classes"]) - set(declared.task.classes))
        if unknown:
            found.append(f"column {declared.task.target!r} has class(es) {_names(unknown)} the "
                         f"federation does not (it has: {', '.join(declared.task.classes)})")
    if summary["n_rows"] < MIN_CLIENT_ROWS:
        found.append(f"{summary['n_rows']} rows with a {declared.task.target!r} value; a "
                     f"holder needs {MIN_CLIENT_ROWS} at least to train and hold some out")
    return found


def _names(names: list[str]) -> str:
    shown = ", ".join(map(repr, names[:MAX_SHOWN]))
    return shown + (f" and {len(names) - MAX_SHOWN} more" if len(names) > MAX_SHOWN else "")


def join_federation(workspace: Workspace, name: str, *, client: str,
                    summary: Mapping[str, Any], tls: bool = False,
                    public_key: str | None = None) -> dict[str, Any]:
    """Admit ``client`` (its token's name) to federation ``name`` with data as ``summary``
    describes, connecting with TLS when ``tls`` (it trusts a root certificate): JoinRefused
    naming each difference, when the two disagree on TLS, or when the federation has ended.
    A federation that speaks TLS admits the holder's SuperNode by its ``public_key``
    (``federation_keys``; InvalidField when it is missing or no such key), registered with
    the coordinator's SuperLink here once that listens. Returns what the holder runs:
    ``plan``, the coordinator's ``address`` (None until the coordinator listens: ask ``GET``
    the federation again) and whether its key is ``registered`` (when not, join again once
    the address is known, and this registers it)."""
    if public_key is not None:
        public_key = check_public_key(public_key)
    record = store.get_federation(workspace, name)
    if record["state"] in store.FINISHED:
        raise JoinRefused(name, [f"it has {record['state']} ({status_line(record)})"])
    speaks_tls = bool(record["settings"].get("tls"))
    mismatch = tls_mismatch(speaks_tls=speaks_tls, holder_tls=tls)
    if mismatch:
        raise JoinRefused(name, mismatch)
    found = differences(FederationSchema.from_dict(record["schema"]), summary)
    if found:
        raise JoinRefused(name, found)
    registered = False
    if speaks_tls:
        if public_key is None:
            raise InvalidField("public_key", "a federation that speaks TLS admits a holder's "
                               "SuperNode by its key: send the public key (OpenSSH, EC) of "
                               "the key pair it signs with (`trainforge federated join` "
                               "makes one)")
        if record["address"] is not None:
            _register_key(workspace, record, client=client, public_key=public_key)
            registered = True
    store.record_member(workspace, name, client=client, summary=dict(summary))
    return {"federation": name, "client": client, "address": record["address"],
            "tls": speaks_tls, "registered": registered, "plan": plan_of(record).to_dict()}


def _register_key(workspace: Workspace, record: FederationRecord, *, client: str,
                  public_key: str) -> None:
    """Register ``client``'s SuperNode key with the federation's listening coordinator;
    JoinRefused saying why when its SuperLink refuses it."""
    python = flower_python(venv_path(workspace.home))
    ca_certificate = saved_certificates(workspace, record["name"]).ca_certificate
    with tempfile.TemporaryDirectory(prefix="trainforge-register-") as scratch:
        try:
            register_holder(str(record["address"]), public_key, client, python=python,
                            root_certificate=ca_certificate, scratch=Path(scratch))
        except FederationFailed as error:
            why = f"its coordinator did not admit this holder's SuperNode key ({error})"
            raise JoinRefused(record["name"], [why]) from None


def tls_mismatch(*, speaks_tls: bool, holder_tls: bool) -> list[str]:
    """Why a holder connecting with TLS or not (``holder_tls``) cannot join a coordinator
    that speaks TLS or not: it would fail its handshakes and retry until the round timed out.
    Empty when they agree."""
    if speaks_tls and not holder_tls:
        return [("its coordinator speaks TLS: join with --root-certificates CA.pem, the "
                "certificate authority that signed its certificate (ask the federation's "
                "operator for it)")]
    if holder_tls and not speaks_tls:
        return [("its coordinator does not speak TLS (it was created without certificates): "
                "join without --root-certificates")]
    return []


def plan_of(record: FederationRecord) -> FederationPlan:
    """What the coordinator and every holder run, from the federation's settings."""
    from trainforge.federated.networks import mlp_settings  # torch: only when a plan is made
    from trainforge.federated.planning import choose_model

    config = FederationConfig(**record["settings"])
    schema = FederationSchema.from_dict(record["schema"])
    model = choose_model(config.model, schema={name: ColumnKind(kind) for name, kind
                                               in schema.columns.items()},
                         features=[column.name for column in schema.declared.columns],
                         task=schema.declared.task, source=f"federation {config.name!r}").model
    return FederationPlan(
        schema=schema.declared, model=model, network=mlp_settings() if model == "mlp" else {},
        min_clients=config.min_clients,
        **planned_strategy(config.strategy_settings(), model=model))


def status_line(record: FederationRecord) -> str:
    """Where the federation stands, in a few words: "waiting for clients: 2 of 3 joined",
    "running round 4 of 10", "succeeded: registered NAME:VERSION", "failed: why"."""
    settings = record["settings"]
    if record["state"] == "waiting":
        joined = len(record["members"])
        starting = "" if record["address"] else "; the coordinator is starting"
        return f"waiting for clients: {joined} of {settings['min_clients']} joined{starting}"
    if record["state"] == "running":
        return (f"running round {min(record['current_round'] + 1, settings['rounds'])} of "
                f"{settings['rounds']}")
    if record["state"] == "succeeded":
        return f"succeeded: registered {record['model_name']}:{record['model_version']}"
    return f"failed: {record['error']}"


def describe(record: FederationRecord, *, with_schema: bool = False) -> dict[str, Any]:
    """The federation as the API answers it (the web page and the CLI show the same)."""
    settings = record["settings"]
    shown: dict[str, Any] = {
        "name": record["name"], "state": record["state"], "status": status_line(record),
        "target": settings["target"], "strategy": settings["strategy"],
        "learns": settings.get("model", "auto"), "tls": bool(settings.get("tls")),
        "listen": settings.get("listen"),
        "rounds": settings["rounds"], "current_round": record["current_round"],
        "min_clients": settings["min_clients"],
        "joined": [{"client": m["client"], "n_rows": m["summary"]["n_rows"],
                    "joined_at": m["joined_at"]} for m in record["members"]],
        "address": record["address"], "run_id": record["run_id"],
        "model": None if record["model_name"] is None
        else f"{record['model_name']}:{record['model_version']}",
        "error": record["error"], "created_by": record["created_by"],
        "created_at": record["created_at"], "finished_at": record["finished_at"]}
    if with_schema:
        shown["schema"] = record["schema"]
    return shown


def rounds_of(workspace: Workspace, record: FederationRecord) -> list[dict[str, Any]]:
    """Each round that ended, as its run's series hold it: the held-out ``loss`` and metrics
    weighted over the clients, the training loss, how many clients took part (each client's
    own figures stay on the run page, for the platform's users)."""
    from trainforge.store.runs import get_run

    if record["run_id"] is None:
        return []
    series = get_run(workspace, record["run_id"])["series"]
    rounds: dict[int, dict[str, Any]] = {}
    for key, points in series.items():
        if key.startswith("clients."):
            continue
        for point in points:
            rounds.setdefault(point["step"], {"round": point["step"]})[key] = point["value"]
    return [rounds[step] for step in sorted(rounds)]
