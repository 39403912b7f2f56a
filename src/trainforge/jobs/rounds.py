"""A federation's rounds as they end: into its run's metric series (the run page's live
curves), per client too, and to the job's observers. The simulation and the federations the
server coordinates both record their rounds with it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trainforge.jobs.observers import notify
from trainforge.store.runs import log_metric
from trainforge.workspace import Workspace

if TYPE_CHECKING:
    from trainforge.federated.central_privacy import CentralPrivacy


class RoundRecorder:
    """Each round's losses and metrics into the run's series as the round ends (the run page's
    live curves), per client too; observers hear ``on_round(record)``. Under central
    differential privacy (``privacy``) each round's record and series carry the ε spent so
    far."""

    def __init__(self, workspace: Workspace, run_id: str, observers: Sequence[object], *,
                 privacy: CentralPrivacy | None = None) -> None:
        self.workspace, self.run_id, self.observers = workspace, run_id, observers
        self.privacy = privacy
        self.rounds: list[dict[str, Any]] = []
        self.lost: dict[str, str] = {}  # clients that failed, and why
        # the clients' evaluation of the kept model when it is no round's own (a mean of the
        # last rounds' global weights, federated.kept_model); None: the last round's is it
        self.kept: dict[str, Any] | None = None

    def on_round(self, record: dict[str, Any]) -> None:
        if "kept" in record:
            self._on_kept(record)
            return
        step = int(record["round"])
        if self.privacy is not None:  # the ε this round's noisy average has spent so far
            record["dp_epsilon"] = self.privacy.epsilon_after(step)
        self.rounds.append(record)
        series = {"round_s": record["seconds"], "participating_clients": len(record["clients"]),
                  "loss": record["loss"], "train_loss": record["train_loss"],
                  "dp_epsilon": record.get("dp_epsilon"), **(record["metrics"] or {})}
        for client, values in record["clients"].items():
            series.update({f"clients.{client}.{key}": value for key, value in values.items()
                           if key in ("loss", "train_loss", "accuracy", "r2", "rmse")})
        for key, value in series.items():
            # a diverged round's NaN loss is no point on a curve (the round's record keeps it)
            if isinstance(value, int | float) and math.isfinite(value):
                log_metric(self.workspace, self.run_id, key, float(value), step=step)
        notify(self.observers, "on_round", record)

    def _on_kept(self, record: dict[str, Any]) -> None:
        """The kept model's figures, as ``kept.*`` series at the last round's step: beside
        that round's own global model on the run page, not in its place."""
        self.kept = record
        for key, value in {"loss": record["loss"], **(record["metrics"] or {})}.items():
            if isinstance(value, int | float) and math.isfinite(value):
                log_metric(self.workspace, self.run_id, f"kept.{key}", float(value),
                           step=int(record["round"]))
        notify(self.observers, "on_phase", f"the registered model, {record['kept']}: "
                                           f"{_figures(record)}")

    def on_waiting(self, text: str) -> None:
        """A round waiting for its clients: "round 1 waits for its clients: 2 of the 3 …"."""
        notify(self.observers, "on_phase", text)

    def on_client_lost(self, name: str, why: str) -> None:
        self.lost[name] = why
        notify(self.observers, "on_phase", f"{name} left the federation ({why.splitlines()[0]}); "
                                           "the rounds go on without it")


def round_line(record: dict[str, Any]) -> str:
    """A round in one line: "round 3: 3 clients, loss 0.5123, accuracy 0.7400 (0.4 s)", and the
    ε spent so far under central differential privacy."""
    spent = f", ε spent {record['dp_epsilon']:.3g}" if "dp_epsilon" in record else ""
    return (f"round {record['round']}: {_figures(record)}{spent} "
            f"({record['seconds']:.1f} s)")


def _figures(record: dict[str, Any]) -> str:
    """"3 clients, loss 0.5123, accuracy 0.7400": an evaluation by the clients in a line."""
    metrics = record["metrics"] or {}
    shown = ", ".join(f"{k} {metrics[k]:.4f}" for k in ("accuracy", "roc_auc", "r2", "rmse")
                      if k in metrics)
    loss = "—" if record["loss"] is None else f"{record['loss']:.4f}"
    return f"{len(record['clients'])} clients, loss {loss}{', ' + shown if shown else ''}"
