"""The report of a federation: one self-contained HTML page (the evaluation report's look) with
the holders, the curve of every round, each holder's figures, and the federated model against
the centralised one trained on the same rows pooled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainforge.data.task import Task
from trainforge.evaluation.privacy_statement import privacy_paragraphs, privacy_record
from trainforge.evaluation.report import template_environment

TEMPLATE = "federated_report.html.j2"
_SAME_STEP = ("trained by the clients' own local step for as many passes over the pooled rows "
              "as each holder made over its own")
MODEL_WORDS = {"linear": "linear model", "mlp": f"multi-layer perceptron, {_SAME_STEP}",
               "cnn": f"convolutional network, {_SAME_STEP}",
               "xgboost": "XGBoost (the catalog's, with the federation's settings), boosting as "
                          "many iterations on the pooled rows as the federation took steps"}


def write_federated_report(path: Path, *, title: str, task: Task, record: Mapping[str, Any],
                           settings: Mapping[str, Any]) -> Path:
    """Write the report to ``path`` and return it. ``record`` is the package's
    federation.json: ``holders``, ``rounds``, ``clients``, ``weighted``, ``federated``,
    ``centralised`` and ``notes``."""
    metrics = sorted(set(record["federated"]) | set(record["centralised"]))
    comparison = [{"metric": name, "federated": record["federated"].get(name),
                   "centralised": record["centralised"].get(name),
                   "weighted over holders": record["weighted"].get(name)} for name in metrics]
    clients = [{"holder": name, **{k: v for k, v in values.items() if k in metrics}}
               for name, values in record["clients"].items()]
    holders = [{"holder": h["name"], "rows": h["n_rows"],
                **{f"share {label}": share for label, share in h["class_shares"].items()}}
               for h in record["holders"]]
    rounds = [{"round": r["round"], "clients": len(r["clients"]), "seconds": r["seconds"],
               "train loss": r["train_loss"], "held-out loss": r["loss"],
               task.metric: (r["metrics"] or {}).get(task.metric),
               "bytes per client": _mean_bytes(r["clients"]),
               "failures": r["failures"],
               **({"ε spent": r["dp_epsilon"]} if "dp_epsilon" in r else {})}
              for r in record["rounds"]]
    private = privacy_record(settings.get("differential_privacy"))
    page = template_environment().get_template(TEMPLATE).render(
        title=title, task=task, comparison=comparison, clients=clients, holders=holders,
        rounds=rounds, notes=record["notes"], settings=dict(settings),
        kept=settings.get("kept"),  # which model was registered (federated.kept_model)
        model_words=MODEL_WORDS.get(str(settings.get("model", "linear")), "model"),
        privacy=None if private is None else privacy_paragraphs(private),
        secure=record.get("secure_aggregation"),
        curve_png=rounds_png(record["rounds"], metric=task.metric, title=title),
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    path.write_text(page, encoding="utf-8")
    return path


def _mean_bytes(clients: Mapping[str, Mapping[str, Any]]) -> float | None:
    """What one client sent and received in a round, on average over the round's clients."""
    sizes = [c["bytes_down"] + c["bytes_up"] for c in clients.values() if "bytes_up" in c]
    return sum(sizes) / len(sizes) if sizes else None


def rounds_png(rounds: Sequence[Mapping[str, Any]], *, metric: str, title: str) -> str | None:
    """Training and held-out loss per round, and the task's metric on a second axis."""
    if not rounds:
        return None
    from trainforge.evaluation.plots import as_png, new_figure

    steps = [r["round"] for r in rounds]
    figure, axes = new_figure(f"Rounds: {title}", size=(9.6, 3.4), right_in=0.7)
    axes.plot(steps, [r["train_loss"] for r in rounds], marker="o", color="#94a3b8",
              label="training loss (clients' own rows)")
    axes.plot(steps, [r["loss"] for r in rounds], marker="o", color="#2563eb",
              label="held-out loss (weighted)")
    axes.set_xticks(steps)
    axes.set_xlabel("round", fontsize=8)
    axes.set_ylabel("loss", fontsize=8)
    values = [(r["metrics"] or {}).get(metric) for r in rounds]
    if all(v is not None for v in values):
        other = axes.twinx()
        other.plot(steps, [float(v) for v in values if v is not None], marker="s", color="#16a34a", label=f"held-out {metric}")
        other.set_ylabel(metric, fontsize=8)
        other.legend(fontsize=7, loc="lower right")
    axes.legend(fontsize=7, loc="upper left")
    return as_png(figure)
