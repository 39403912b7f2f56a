"""A federation's coordinator: trainforge's ServerApp, which the SuperLink
(``flower_runtime superlink``) runs from Flower's virtualenv for the run trainforge submits
(``flwr run``, with the plan and an output directory in the run config): Flower's own FedAvg
or FedProx (trees: its XGBoost bagging, ``flower_trees``), through Flower's legacy workflow, with the fit round through SecAgg+ when the plan asks for
secure aggregation (Flower's SecAgg+ workflow needs the legacy strategies, which is why the
coordinator keeps them rather than the message-API strategies).

After each round the ServerApp appends one JSON line to ``OUT/rounds.jsonl`` (each client's
rows, losses, metrics and bytes on the wire; the weighted means); after the last, the model it
keeps (``kept_model``: the last round's global weights, or their mean over the last rounds)
goes to ``OUT/weights.npz`` (plain arrays, read back without pickle). A mean is a model no
round evaluated, so the clients evaluate it once more after the last round, and that line says
``"kept"``: what the registered model is. A round that waits for its clients says so in
``OUT/waiting.json``; a federation that fails writes why to ``OUT/failed.txt``.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Context
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common.recorddict_compat import parameters_to_arrayrecord
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import FedAvg, FedAvgM, FedProx, Strategy
from flwr.server.workflow import DefaultWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key
from flwr.server.workflow.default_workflows import default_evaluate_workflow
from flwr.serverapp import Grid, ServerApp

from trainforge.federated.flower_grid import MeteredGrid
from trainforge.federated.flower_privacy import with_central_privacy
from trainforge.federated.flower_secure import SecureRoundHalted, SurvivingSecAggPlus
from trainforge.federated.flower_trees import TreeBagging
from trainforge.federated.kept_model import KeptModel, kept_words
from trainforge.federated.networks import initial_weights
from trainforge.federated.plan import FederationPlan
from trainforge.federated.processes import (
    FAILED_FILE,
    ROUNDS_FILE,
    STARTED_FILE,
    WAITING_FILE,
    WEIGHTS_FILE,
)

WAIT_REPORT_S = 1.0  # how often a round waiting for its clients says how many have joined


class TooFewClients(RuntimeError):
    """A round waited its timeout and fewer clients than the plan's minimum had joined."""


def weighted_means(results: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Each numeric metric averaged over the clients, weighted by their rows."""
    total = sum(n for n, _ in results) or 1
    names = {k for _, metrics in results for k, v in metrics.items()
             if isinstance(v, int | float) and not isinstance(v, bool)}
    return {name: sum(n * float(m.get(name, 0.0)) for n, m in results) / total
            for name in sorted(names)}


class RecordingStrategy(Strategy):  # type: ignore[misc]  # flwr is untyped here
    """Flower's strategy, unchanged, with each round written down as it ends, and each round
    started only when the plan's minimum of clients has joined (or given up, saying so)."""

    def __init__(self, inner: Strategy, *, plan: FederationPlan, out: Path,
                 grid: MeteredGrid) -> None:
        self.inner, self.plan, self.out, self.grid = inner, plan, out, grid
        self.round_started = 0.0
        self.fits: dict[str, dict[str, Any]] = {}
        self.names: dict[int, str] = {}  # node id → the client's own name
        self.kept = KeptModel(plan)
        self.evaluating_kept = False  # the clients are evaluating the kept model
        self.sampled = 0  # the clients asked to fit this round
        self.fit_failures = 0  # those that failed, or did not answer within the timeout

    def initialize_parameters(self, client_manager: Any) -> Any:
        return self.inner.initialize_parameters(client_manager)

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        self._wait_for_clients(server_round, client_manager)
        # the clock starts once the clients are there: waiting for them to connect (their
        # start, on the first round) is not the round's cost
        instructions = self.inner.configure_fit(server_round, parameters, client_manager)
        self.round_started, self.sampled = time.time(), len(instructions)
        for _, fit_ins in instructions:
            fit_ins.config["round"] = server_round
        return instructions

    def _wait_for_clients(self, server_round: int, client_manager: Any) -> None:
        needed, waiting = self.plan.min_clients, self.out / WAITING_FILE
        deadline = time.monotonic() + self.plan.round_timeout_s
        while not client_manager.wait_for(needed, timeout=WAIT_REPORT_S):
            joined = client_manager.num_available()
            if time.monotonic() > deadline:
                raise TooFewClients(
                    f"round {server_round} waited {self.plan.round_timeout_s:.0f} s for "
                    f"{needed} clients and {joined} of {needed} joined; it was given up")
            waiting.write_text(json.dumps({"round": server_round, "joined": joined,
                                           "needed": needed}))
        waiting.unlink(missing_ok=True)

    def aggregate_fit(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
        if len(results) < self.plan.min_clients:  # failed, or silent past the timeout
            raise TooFewClients(
                f"round {server_round}: {len(results)} of the {self.sampled} clients asked "
                f"sent an update within {self.plan.round_timeout_s:.0f} s, and the plan needs "
                f"{self.plan.min_clients}; it was given up")
        self.names.update({proxy.node_id: str(res.metrics.get("client", proxy.cid))
                           for proxy, res in results})
        self.fits = {self.names[proxy.node_id]: {
            "n_train": res.num_examples, "train_loss": res.metrics.get("train_loss"),
            "fit_s": res.metrics.get("fit_s"), "node": proxy.node_id} for proxy, res in results}
        aggregated, metrics = self.inner.aggregate_fit(server_round, results, failures)
        if aggregated is not None:
            self.kept.add(server_round, parameters_to_ndarrays(aggregated))
        self.fit_failures = self.sampled - len(results)
        return aggregated, metrics

    def configure_evaluate(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        return self.inner.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round: int, results: list[Any],
                           failures: list[Any]) -> Any:
        loss, metrics = self.inner.aggregate_evaluate(server_round, results, failures)
        # the kept model was trained by no round of its own: its clients are its evaluators
        clients = {} if self.evaluating_kept else {name: dict(fit)
                                                   for name, fit in self.fits.items()}
        for proxy, res in results:
            name = self.names.setdefault(proxy.node_id,
                                         str(res.metrics.get("client", proxy.cid)))
            clients.setdefault(name, {"node": proxy.node_id}).update(
                {"n_test": res.num_examples, "loss": res.loss,
                 **{k: v for k, v in res.metrics.items() if k != "client"}})
        for values in clients.values():
            node = int(values.pop("node"))
            if not self.evaluating_kept:  # its messages share the last round's byte count
                down, up = self.grid.round_bytes(server_round, node)
                values.update({"bytes_down": down, "bytes_up": up})
        line = {"round": server_round, "seconds": time.time() - self.round_started,
                "loss": loss, "metrics": metrics,
                "train_loss": None if self.evaluating_kept else weighted_means(
                    [(fit["n_train"], fit) for fit in self.fits.values()]).get("train_loss"),
                "clients": clients, "failures": len(failures) if self.evaluating_kept
                else self.fit_failures + len(failures),
                "secure_aggregation": self.plan.secure_aggregation,
                **({"kept": kept_words(self.plan)} if self.evaluating_kept else {})}
        with (self.out / ROUNDS_FILE).open("a") as rounds:
            rounds.write(json.dumps(line) + "\n")
        return loss, metrics

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        return self.inner.evaluate(server_round, parameters)


def build_strategy(plan: FederationPlan) -> Strategy:
    """Flower's FedAvg, FedProx or FedAvgM (trees: its XGBoost bagging, ``flower_trees``),
    waiting for ``min_clients``, every client in every round."""
    common: dict[str, Any] = {
        "fraction_fit": 1.0, "fraction_evaluate": 1.0, "min_fit_clients": plan.min_clients,
        "min_evaluate_clients": plan.min_clients, "min_available_clients": plan.min_clients,
        "fit_metrics_aggregation_fn": weighted_means,
        "evaluate_metrics_aggregation_fn": weighted_means}
    if plan.model == "xgboost":
        return TreeBagging(plan=plan, **common)
    common["initial_parameters"] = ndarrays_to_parameters(initial_weights(plan))
    if plan.strategy == "fedprox":
        return FedProx(proximal_mu=plan.proximal_mu, **common)
    if plan.strategy == "fedavgm":
        return FedAvgM(server_momentum=plan.server_momentum, **common)
    return FedAvg(**common)


def evaluate_kept_too(strategy: RecordingStrategy) -> Any:
    """Flower's evaluation of each round's global model and, after the last round when the
    kept model is a mean of rounds, the clients' evaluation of that mean: the registered
    model's own figures."""

    def evaluate(grid: Grid, context: LegacyContext) -> None:
        default_evaluate_workflow(grid, context)
        last = context.state.config_records[MAIN_CONFIGS_RECORD][Key.CURRENT_ROUND]
        if last != context.config.num_rounds or not strategy.kept.averaged:
            return
        state = context.state.array_records
        state[MAIN_PARAMS_RECORD] = parameters_to_arrayrecord(
            ndarrays_to_parameters(strategy.kept.weights()), True)
        strategy.evaluating_kept, strategy.round_started = True, time.time()
        default_evaluate_workflow(grid, context)

    return evaluate


def fit_workflow(plan: FederationPlan, *, names: Mapping[int, str]
                 ) -> SurvivingSecAggPlus | None:
    """SecAgg+ for the fit round when the plan asks for secure aggregation, else Flower's
    default. Every sampled client holds a share of every other's key; ``secure_quorum`` of
    them rebuild one, so the rest may drop out mid-round (``flower_secure``)."""
    if not plan.secure_aggregation:
        return None
    return SurvivingSecAggPlus(names=names, num_shares=1.0,
                               reconstruction_threshold=plan.secure_threshold,
                               max_weight=float(plan.secure_max_rows),
                               timeout=plan.round_timeout_s)


server_app = ServerApp()


@server_app.main()  # type: ignore[untyped-decorator]  # flwr is untyped here
def coordinate(grid: Grid, context: Context) -> None:
    """The plan's rounds; the global weights into the output directory, or why not."""
    out = Path(str(context.run_config["out"]))
    (out / STARTED_FILE).touch()
    try:
        plan = FederationPlan.load(Path(str(context.run_config["plan"])))
        metered = MeteredGrid(grid, timeout_s=plan.round_timeout_s)
        strategy = RecordingStrategy(with_central_privacy(build_strategy(plan), plan),
                                     plan=plan, out=out, grid=metered)
        legacy = LegacyContext(context=context, strategy=strategy, config=ServerConfig(
            num_rounds=plan.rounds, round_timeout=plan.round_timeout_s))
        DefaultWorkflow(fit_workflow=fit_workflow(plan, names=strategy.names),
                        evaluate_workflow=evaluate_kept_too(strategy))(metered, legacy)
        if strategy.kept.latest is None:
            raise TooFewClients("no round completed: no client sent an update")
        partial = out / f".{WEIGHTS_FILE}"
        with partial.open("wb") as sink:  # whole or absent: trainforge polls for it
            np.savez(sink, *strategy.kept.weights())
        partial.replace(out / WEIGHTS_FILE)
    except (TooFewClients, SecureRoundHalted) as error:
        (out / FAILED_FILE).write_text(str(error))
    except BaseException:
        (out / FAILED_FILE).write_text(traceback.format_exc())
        raise

