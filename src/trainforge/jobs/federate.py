"""The federated simulation job: one table or image folder split between simulated data
holders, trained as a federation of real processes (Flower's coordinator and a client per holder, over gRPC on
127.0.0.1), evaluated on each holder's held-out rows, compared with the same model trained
centrally on the union of the same rows, and registered like any model.

Every door builds a ``FederatedSimulationConfig`` and calls ``run_federated_simulation``.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainforge.config import FederatedSimulationConfig
from trainforge.errors import ConfigError
from trainforge.jobs.lifecycle import run_lifecycle
from trainforge.jobs.observers import notify
from trainforge.jobs.rounds import RoundRecorder
from trainforge.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from trainforge.algorithms.model import TabularModel
    from trainforge.data.declared_schema import DeclaredSchema
    from trainforge.data.task import Task
    from trainforge.evaluation.evaluate import Evaluation
    from trainforge.federated.central_privacy import CentralPrivacy
    from trainforge.federated.partition import Holder
    from trainforge.federated.plan import FederationPlan
    from trainforge.federated.planning import ModelChoice
    from trainforge.registry.records import ModelVersion

RUN_KIND = "federated"
FEDERATION_FILE = "federation.json"  # in the package: the holders, every round, the comparison


@dataclass
class FederatedOutcome:
    """What one simulated federation produced; the CLI renders it."""

    config: FederatedSimulationConfig
    task: Task
    notes: list[str]
    holders: list[Holder]
    rounds: list[dict[str, Any]]  # one record per round, as the coordinator wrote it
    # the clients' own evaluation of the registered model when it is no round's global model
    # (a mean of the last rounds', federated.kept_model); None when it is the last round's
    kept: dict[str, Any] | None
    clients: dict[str, Evaluation]  # the global model on each holder's held-out rows
    weighted: dict[str, float]  # those metrics averaged, weighted by held-out rows
    federated: Evaluation  # the global model on all held-out rows together
    centralised: Evaluation  # the same model trained on the union of the training rows
    version: ModelVersion
    run_id: str
    elapsed_s: float


def run_federated_simulation(config: FederatedSimulationConfig, *, workspace: Workspace,
                             observers: Sequence[object] = ()) -> FederatedOutcome:
    """Split ``config.data`` into ``config.clients`` holders, federate, evaluate, register.

    Raises ConfigError (first) for settings tree bagging cannot honour, FlowerNotInstalled
    (before anything is read) when Flower's virtualenv is missing,
    ConfigError for a partition the table cannot give or a model the data cannot feed,
    PrivacyBudgetTooSmall (before any process starts) for an ε too small to train,
    FederationFailed when a process fails.
    """
    from trainforge.data.read import read_table
    from trainforge.federated.environment import flower_python, venv_path
    from trainforge.federated.partition import parse_scheme, partition
    from trainforge.federated.plan import check_tree_settings, secure_quorum
    from trainforge.federated.planning import declare_table, network_settings
    from trainforge.store.datasets import record_dataset

    check_tree_settings(config.model, strategy=config.strategy,
                        secure_aggregation=config.secure_aggregation,
                        dp_epsilon=config.dp_epsilon)
    python = flower_python(venv_path(workspace.home))
    scheme = parse_scheme(config.partition)
    if config.min_clients is not None and config.min_clients > config.clients:
        raise ConfigError(f"--min-clients {config.min_clients} is more than --clients "
                          f"{config.clients}: the rounds could never start")
    if config.secure_aggregation and (config.min_clients or config.clients) < secure_quorum(
            config.clients):
        raise ConfigError(f"--min-clients {config.min_clients} is below the "
                          f"{secure_quorum(config.clients)} of {config.clients} clients a "
                          "secure round needs to rebuild the keys of those that drop; raise it "
                          "or leave out --secure-aggregation")
    if config.secure_aggregation and config.dp_epsilon is not None:
        raise ConfigError("--dp-epsilon clips each client's update on the coordinator, and "
                          "--secure-aggregation hides those updates from it: use one or the "
                          "other (DP-SGD inside each holder is not offered for federations yet)")
    started, cpu_start = time.time(), time.process_time()
    dataset = read_table(config.data)
    notes: list[str] = []
    declared = declare_table(dataset, config.target, model=config.model, notes=notes,
                             leave_out=scheme.column if scheme.kind == "by-column" else None)
    frame, task, choice, schema = declared.frame, declared.task, declared.choice, declared.schema
    privacy = _central_privacy(config)
    holders = partition(frame, task, n_clients=config.clients, scheme=scheme, seed=config.seed,
                        source=dataset.source)
    plan = _plan(config, schema=schema, choice=choice, privacy=privacy,
                 network=network_settings(choice, frame, task=task,
                                          image_size=config.image_size),
                 # SecAgg+ weighs an update by its rows over this bound: the largest holder
                 # is exact
                 secure_max_rows=max(holder.n_rows for holder in holders))
    notify(observers, "on_phase", f"{task.describe()}; {len(holders)} holders ({scheme}):")
    for holder in holders:
        notify(observers, "on_phase", f"  {holder.describe()}")
    dataset_id = record_dataset(workspace, dataset)
    # the holders' files live until the model is evaluated: a CNN reads its images from them
    with run_lifecycle(workspace, kind=RUN_KIND, config=config, dataset_id=dataset_id,
                       observers=observers, cpu_start=cpu_start) as run, \
            tempfile.TemporaryDirectory(prefix="trainforge-federated-") as scratch:
        recorder = RoundRecorder(workspace, run.id, observers, privacy=privacy)
        model, splits = _federate(config, plan=plan, frame=frame, holders=holders,
                                  python=python, scratch=Path(scratch), recorder=recorder,
                                  observers=observers)
        outcome = _evaluate_and_register(
            config, workspace=workspace, plan=plan, privacy=privacy, model=model, splits=splits,
            holders=holders, rounds=recorder.rounds, kept=recorder.kept, run_id=run.id,
            notes=[*notes, *(f"{name} left the federation ({why.splitlines()[0]})"
                             for name, why in recorder.lost.items())],
            fingerprint=dataset.fingerprint, started=started, observers=observers)
        run.succeeded(outcome.version, metrics={
            **outcome.federated.metrics,
            **{f"centralised.{k}": v for k, v in outcome.centralised.metrics.items()}})
    outcome.elapsed_s = time.time() - started
    return outcome


def _central_privacy(config: FederatedSimulationConfig) -> CentralPrivacy | None:
    """The noise --dp-epsilon needs over the planned rounds; refused here, before any process
    starts, when the budget is too small to train."""
    if config.dp_epsilon is None:
        return None
    from trainforge.federated.central_privacy import plan_central_privacy

    return plan_central_privacy(epsilon=config.dp_epsilon, delta=config.dp_delta,
                                clipping_norm=config.dp_max_grad_norm, rounds=config.rounds,
                                clients=config.min_clients or config.clients)


def _plan(config: FederatedSimulationConfig, *, schema: DeclaredSchema, choice: ModelChoice,
          network: dict[str, Any], privacy: CentralPrivacy | None,
          secure_max_rows: int) -> FederationPlan:
    from trainforge.federated.plan import FederationPlan, planned_strategy

    return FederationPlan(
        schema=schema, min_clients=config.min_clients or config.clients,
        **planned_strategy(config.strategy_settings(), model=choice.model),
        model=choice.model, network=network,
        dp_noise_multiplier=0.0 if privacy is None else privacy.noise_multiplier,
        dp_clipping_norm=0.0 if privacy is None else privacy.clipping_norm,
        secure_aggregation=config.secure_aggregation, secure_max_rows=secure_max_rows)


def default_name(data: str) -> str:
    """"examples/credit_g.csv" → "credit_g-federated"."""
    stem = re.sub(r"[^a-z0-9_.-]+", "-", Path(data).stem.lower()).strip("-.") or "model"
    return f"{stem}-federated"


_Splits = list[tuple["pd.DataFrame", "pd.DataFrame"]]  # each holder's (training, held-out) rows


def _federate(config: FederatedSimulationConfig, *, plan: FederationPlan,
              frame: pd.DataFrame, holders: list[Holder], python: Path, scratch: Path,
              recorder: RoundRecorder, observers: Sequence[object]
              ) -> tuple[TabularModel, _Splits]:
    """Write each holder's table, run the federation, and return the global model with each
    holder's split as its client made it (the same function, seed and rows)."""
    from trainforge.data.read import read_table
    from trainforge.data.splits import train_test_split
    from trainforge.federated.global_models import global_model
    from trainforge.federated.holder_tables import write_holder_table
    from trainforge.federated.processes import run_federation

    image_column = plan.network.get("column") if plan.model == "cnn" else None
    tables = [(holder.name, write_holder_table(frame.iloc[holder.rows],
                                               scratch / "holders" / holder.name,
                                               image_column=image_column))
              for holder in holders]
    secure = " with secure aggregation" if config.secure_aggregation else ""
    notify(observers, "on_phase", f"starting the coordinator (a SuperLink) and {len(holders)} "
                                  f"SuperNodes ({plan.model}, {plan.strategy}, "
                                  f"{config.rounds} rounds{secure})")
    weights = run_federation(plan, tables, python=python, scratch=scratch,
                             on_round=recorder.on_round, on_client_lost=recorder.on_client_lost,
                             on_waiting=recorder.on_waiting)
    splits = [train_test_split(read_table(table).frame, plan.schema.task,
                               test_size=config.test_size, seed=config.seed)
              for _, table in tables]
    return global_model(weights, plan), splits


def _evaluate_and_register(config: FederatedSimulationConfig, *, workspace: Workspace,
                           plan: FederationPlan, privacy: CentralPrivacy | None,
                           model: TabularModel, splits: _Splits,
                           holders: list[Holder], rounds: list[dict[str, Any]],
                           kept: dict[str, Any] | None, notes: list[str], run_id: str,
                           fingerprint: str, started: float, observers: Sequence[object]
                           ) -> FederatedOutcome:
    import pandas as pd

    from trainforge.evaluation.evaluate import evaluate
    from trainforge.federated.centralised import centralised_model
    from trainforge.federated.kept_model import kept_note, kept_words
    from trainforge.federated.report import write_federated_report

    notify(observers, "on_phase", "evaluating on each holder's held-out rows, and training the "
                                  "centralised model for comparison")
    clients = {holder.name: evaluate(model, held_out, source=holder.name)
               for holder, (_, held_out) in zip(holders, splits, strict=True)}
    weighted = _weighted_means(list(clients.values()))
    held_out = pd.concat([rows for _, rows in splits])
    federated = evaluate(model, held_out, source="the holders' held-out rows")
    centralised = evaluate(centralised_model(plan, pd.concat([rows for rows, _ in splits])),
                           held_out, source="the holders' held-out rows")
    record = {"holders": [{"name": h.name, "n_rows": h.n_rows, "class_shares": h.class_shares}
                          for h in holders],
              "rounds": rounds, "notes": notes, "kept": kept_words(plan), "kept_round": kept,
              "clients": {name: e.metrics for name, e in clients.items()},
              "weighted": weighted, "federated": federated.metrics,
              "centralised": centralised.metrics,
              "secure_aggregation": _secure_aggregation(config, n_clients=len(holders))}
    lineage = {"run_id": run_id, "seed": config.seed, "dataset_fingerprint": fingerprint,
               "config": config.model_dump(mode="json"), "federated": True,
               "strategy": plan.strategy, "rounds": len(rounds), "clients": len(holders),
               "partition": config.partition, "model": plan.model,
               "secure_aggregation": config.secure_aggregation, "kept": kept_words(plan)}
    if privacy is not None:  # its own section in the report and the model card, as DP-SGD's
        lineage["differential_privacy"] = privacy.lineage(len(rounds))
    name = config.name or default_name(config.data)
    with tempfile.TemporaryDirectory(prefix="trainforge-federated-") as scratch:
        federation_file = Path(scratch) / FEDERATION_FILE
        federation_file.write_text(json.dumps(record, indent=1))
        notify(observers, "on_phase", "writing the report")
        report = write_federated_report(Path(scratch) / "report.html", title=name,
                                        task=plan.schema.task, record=record,
                                        settings=lineage)
        notify(observers, "on_phase", f"registering {name}")
        version = workspace.registry.register(
            model, name=name, lineage=lineage,
            extra_files={FEDERATION_FILE: federation_file, "report.html": report},
            metrics={"test": federated.metrics, "centralised": centralised.metrics,
                     "clients_weighted": weighted},
            description=f"federated {plan.model} ({plan.strategy}, {len(rounds)} rounds, "
                        f"{len(holders)} holders, {config.partition}"
                        f"{', secure aggregation' if config.secure_aggregation else ''}"
                        f"{kept_note(plan)})")
    return FederatedOutcome(config=config, task=plan.schema.task, notes=notes, holders=holders,
                            rounds=rounds, kept=kept, clients=clients, weighted=weighted,
                            federated=federated, centralised=centralised, version=version,
                            run_id=run_id, elapsed_s=time.time() - started)


def _secure_aggregation(config: FederatedSimulationConfig, *, n_clients: int
                        ) -> dict[str, Any] | None:
    """What secure aggregation guaranteed, for the report: none when it was off."""
    from trainforge.federated.plan import SECURE_THRESHOLD, secure_quorum

    if not config.secure_aggregation:
        return None
    quorum = secure_quorum(n_clients)
    return {"protocol": "SecAgg+ (Flower)", "clients": n_clients, "quorum": quorum,
            "may_drop": n_clients - quorum, "reconstruction_threshold": SECURE_THRESHOLD}


def _weighted_means(evaluations: list[Evaluation]) -> dict[str, float]:
    """Each metric averaged over the holders that have it, weighted by their held-out rows (a
    holder with one class has no ROC AUC: it is left out of that mean, not counted as 0)."""
    names = {name for evaluation in evaluations for name in evaluation.metrics}
    means = {}
    for name in sorted(names):
        having = [(e.n_rows, e.metrics[name]) for e in evaluations if name in e.metrics]
        means[name] = sum(n * value for n, value in having) / max(sum(n for n, _ in having), 1)
    return means
