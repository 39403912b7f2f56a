"""The coordinator job of a federation the server coordinates: start Flower's coordinator,
wait for the holders to join, follow the rounds into the federation's run, and register the
global model.

A server worker runs ``run_coordinator`` for a job of kind ``federation``. The federation
waits (its status says "waiting for clients: 1 of 3 joined") until ``min_clients`` holders
have joined; when fewer have after ``join_timeout_s`` it fails with that reason. The global
model after the last round is what each holder evaluated on its own held-out rows in that
round: per client and weighted by held-out rows, it is registered with the model.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainforge.config import FederationConfig
from trainforge.errors import FederationFailed, FederationTimedOut
from trainforge.federated.processes import Coordinator, start_coordinator
from trainforge.jobs.federate import FEDERATION_FILE
from trainforge.jobs.federation import FederationSchema, plan_of, who_takes_part
from trainforge.jobs.federation_tls import saved_certificates
from trainforge.jobs.lifecycle import run_lifecycle
from trainforge.jobs.observers import notify
from trainforge.jobs.rounds import RoundRecorder
from trainforge.store import federations as store
from trainforge.workspace import Workspace

if TYPE_CHECKING:
    from trainforge.federated.linear import Weights
    from trainforge.registry.records import ModelVersion

RUN_KIND = "federation"
LOOPBACK = "127.0.0.1:"  # no --listen: the coordinator binds here, on a free port
WAIT_POLL_S = 1.0  # how often the joins are counted while the federation waits


@dataclass
class CoordinatedOutcome:
    """What a coordinated federation produced."""

    name: str
    run_id: str
    version: ModelVersion
    rounds: list[dict[str, Any]]  # one record per round, as the coordinator wrote it
    clients: dict[str, dict[str, Any]]  # the global model on each holder's held-out rows
    weighted: dict[str, float]  # those metrics averaged, weighted by held-out rows


class _Progress:
    """Keeps the federation's round in the store as the rounds end (its status line)."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace, self.name = workspace, name

    def on_round(self, record: dict[str, Any]) -> None:
        store.update_federation(self.workspace, self.name, current_round=int(record["round"]))


def run_coordinator(name: str, *, workspace: Workspace, observers: Sequence[object] = (),
                    poll_s: float = WAIT_POLL_S) -> CoordinatedOutcome:
    """Run federation ``name`` from its waiting to its registered model; the federation's
    state follows (failed, with the reason, on any error, which is raised again).

    Raises FlowerNotInstalled when Flower's virtualenv is missing, FederationTimedOut when
    too few holders join in time, FederationFailed when the coordinator fails.
    """
    from trainforge.federated.environment import flower_python, venv_path

    record = store.get_federation(workspace, name)
    config = FederationConfig(**record["settings"])
    try:
        python = flower_python(venv_path(workspace.home))
        with run_lifecycle(workspace, kind=RUN_KIND, config=config, dataset_id=None,
                           observers=observers) as run:
            store.update_federation(workspace, name, state="waiting", run_id=run.id,
                                    address=None, current_round=0, error=None)
            recorder = RoundRecorder(workspace, run.id, [*observers, _Progress(workspace, name)])
            with tempfile.TemporaryDirectory(prefix="trainforge-federation-") as scratch:
                weights = _coordinate(config, record=record, python=python,
                                      scratch=Path(scratch), recorder=recorder,
                                      workspace=workspace, observers=observers, poll_s=poll_s)
            outcome = _register(config, workspace=workspace, record=record, weights=weights,
                                rounds=recorder.rounds, kept=recorder.kept, lost=recorder.lost,
                                run_id=run.id)
            run.succeeded(outcome.version, metrics=dict(outcome.weighted))
    except BaseException as error:
        why = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error) or repr(error)
        store.update_federation(workspace, name, state="failed", address=None, error=why)
        raise
    store.update_federation(workspace, name, state="succeeded", address=None,
                            model_name=outcome.version.name,
                            model_version=outcome.version.version)
    return outcome


def _coordinate(config: FederationConfig, *, record: store.FederationRecord, python: Path,
                scratch: Path, recorder: RoundRecorder, workspace: Workspace,
                observers: Sequence[object], poll_s: float) -> Weights:
    # where holders dial: --listen, else this machine alone on a free port
    host, _, port = (config.listen or LOOPBACK).rpartition(":")
    certificates = saved_certificates(workspace, config.name) if config.tls else None
    coordinator = start_coordinator(plan_of(record), python=python, scratch=scratch, host=host,
                                    port=int(port) if port else None, certificates=certificates)
    try:
        store.update_federation(workspace, config.name, address=coordinator.address)
        notify(observers, "on_phase", f"coordinator listening on {coordinator.address}"
                                      f"{' (TLS)' if config.tls else ''}; waiting for "
                                      f"{config.min_clients} clients to join; "
                                      f"{who_takes_part(config.tls)}")
        _wait_for_clients(config, coordinator, workspace=workspace, observers=observers,
                          poll_s=poll_s)
        store.update_federation(workspace, config.name, state="running")
        notify(observers, "on_phase", f"{config.min_clients} clients joined; "
                                      f"{config.rounds} rounds of "
                                      f"{plan_of(record).strategy}")
        return _follow_unless_stalled(config, coordinator, recorder)
    finally:
        coordinator.stop()


def _follow_unless_stalled(config: FederationConfig, coordinator: Coordinator,
                           recorder: RoundRecorder) -> Weights:
    """Follow the rounds; when none has ended ``join_timeout_s + round_timeout_s`` after the
    holders joined, one that joined never reached the coordinator (Flower would wait for it
    a day): stop it and fail, saying so."""
    patience_s = config.join_timeout_s + config.round_timeout_s
    stalled = threading.Event()

    def give_up() -> None:
        if not recorder.rounds:
            stalled.set()
            coordinator.process.terminate()

    timer = threading.Timer(patience_s, give_up)
    timer.daemon = True
    timer.start()
    try:
        return coordinator.follow(recorder.on_round, recorder.on_client_lost)
    except FederationFailed:
        if stalled.is_set():
            raise FederationFailed("coordinator", f"no round ended {patience_s:g} s after "
                                   f"{config.min_clients} holders joined: a holder's client "
                                   f"never reached the coordinator at {coordinator.address} "
                                   "(check that its machine can reach that address)") from None
        raise
    finally:
        timer.cancel()


def _wait_for_clients(config: FederationConfig, coordinator: Coordinator, *,
                      workspace: Workspace, observers: Sequence[object], poll_s: float) -> None:
    """Return once ``min_clients`` holders have joined; FederationTimedOut after the join
    timeout, FederationFailed when the coordinator exits meanwhile."""
    deadline = time.monotonic() + config.join_timeout_s
    seen: set[str] = set()
    while True:
        members = [m["client"] for m in store.get_federation(workspace, config.name)["members"]]
        for client in members:
            if client not in seen:
                seen.add(client)
                notify(observers, "on_phase", f"{client} joined ({len(seen)} of "
                                              f"{config.min_clients})")
        if len(members) >= config.min_clients:
            return
        if coordinator.process.poll() is not None:
            raise FederationFailed("coordinator", f"it exited with status "
                                   f"{coordinator.process.returncode} while waiting for clients")
        if time.monotonic() >= deadline:
            raise FederationTimedOut(config.name, len(members), config.min_clients,
                                     config.join_timeout_s)
        time.sleep(poll_s)


def _register(config: FederationConfig, *, workspace: Workspace,
              record: store.FederationRecord, weights: Weights, rounds: list[dict[str, Any]],
              kept: dict[str, Any] | None, lost: dict[str, str], run_id: str
              ) -> CoordinatedOutcome:
    """The kept model, registered with each holder's evaluation of it: the clients' evaluation
    of the kept model (``kept``) when it is a mean of rounds, else of the last round's."""
    from trainforge.federated.global_models import global_model
    from trainforge.federated.kept_model import kept_note, kept_words

    if not rounds:
        raise FederationFailed("coordinator", "it ended without a round")
    schema, plan = FederationSchema.from_dict(record["schema"]), plan_of(record)
    last = kept or rounds[-1]
    metric_names = set(last["metrics"] or {})
    clients = {name: {k: v for k, v in values.items() if k in metric_names | {"n_test"}}
               for name, values in last["clients"].items()}
    weighted = {k: float(v) for k, v in (last["metrics"] or {}).items()}
    members = store.get_federation(workspace, config.name)["members"]
    federation = {
        "holders": [{"name": m["client"], "n_rows": m["summary"]["n_rows"],
                     "classes": m["summary"]["classes"]} for m in members],
        "rounds": rounds, "clients": clients, "weighted": weighted, "kept": kept_words(plan),
        "notes": [*schema.notes, *(f"{name} left the federation ({why.splitlines()[0]})"
                                   for name, why in lost.items())]}
    lineage = {"run_id": run_id, "seed": config.seed, "federated": True,
               "federation": config.name, "config": config.model_dump(mode="json"),
               "strategy": plan.strategy, "model": plan.model, "rounds": len(rounds),
               "clients": len(clients), "kept": kept_words(plan)}
    with tempfile.TemporaryDirectory(prefix="trainforge-federation-") as scratch:
        federation_file = Path(scratch) / FEDERATION_FILE
        federation_file.write_text(json.dumps(federation, indent=1))
        version = workspace.registry.register(
            global_model(weights, plan), name=config.name, lineage=lineage,
            extra_files={FEDERATION_FILE: federation_file},
            # "test": the clients' held-out rows, weighted; then each client's own
            metrics={"test": weighted, **{f"client {n}": m for n, m in clients.items()}},
            description=f"federated {plan.model} ({plan.strategy}, {len(rounds)} rounds, "
                        f"{len(clients)} holders{kept_note(plan)})")
    return CoordinatedOutcome(name=config.name, run_id=run_id, version=version, rounds=rounds,
                              clients=clients, weighted=weighted)
