"""A small model, deployed with its predictions logged and labelled: what retraining reads."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.training._tables import table

from trainforge.data.task import TaskKind
from trainforge.monitoring.feedback import LabelSpec, record_feedback
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.store.deployments import save_deployment
from trainforge.workspace import Workspace

FEATURES = ["x1", "x2", "colour"]


def train_churn(folder: Path, *, algorithm: str = "linear") -> Path:
    """A workspace holding ``churn`` version 1 (binary, target ``y``, one trial of
    ``algorithm``), trained on ``folder/churn.csv`` (200 rows); returns its home,
    ``folder/home``."""
    import trainforge as tf

    frame, _ = table(TaskKind.BINARY, n_rows=200)
    frame.to_csv(folder / "churn.csv", index=False)
    home = folder / "home"
    ws = Workspace(home)
    tf.train(folder / "churn.csv", target="y", name="churn", trials=1, algorithm=algorithm,
             workspace=ws)
    ws.close()
    return home


def copy_home(home: Path, tmp_path: Path) -> Workspace:
    """This test's own copy of a trained workspace."""
    shutil.copytree(home, tmp_path / "home")
    return Workspace(tmp_path / "home")


def deploy(ws: Workspace, *, log_policy: dict[str, Any] | None = None) -> None:
    save_deployment(ws, name="churn", model_name="churn", model_version=1, requested="churn",
                    deployed_by="ann", log_policy=log_policy)


def serve_and_label(ws: Workspace, *, n_rows: int = 30, right: bool = True,
                    log_policy: dict[str, Any] | None = None) -> list[str]:
    """Deploy ``churn``, log one request of ``n_rows`` rows answered "yes" (with its
    probabilities), and label every row: as predicted when ``right``, else the other class.
    Returns the request id."""
    deploy(ws, log_policy=log_policy)
    frame, _ = table(TaskKind.BINARY, n_rows=n_rows, seed=7)
    request_id = new_request_id()
    log = PredictionLog(ws.prediction_log)
    log.record(deployment="churn", model="churn", version=1, request_id=request_id,
               inputs={f: frame[f].tolist() for f in FEATURES if f not in
                       (log_policy or {}).get("exclude", ())},
               outputs={"prediction": frame["y"].tolist(),
                        "proba.yes": (frame["y"] == "yes").astype(float).tolist(),
                        "proba.no": (frame["y"] == "no").astype(float).tolist()},
               n_rows=n_rows, latency_s=0.001)
    log.flush()
    flip = {"yes": "no", "no": "yes"}
    labels = [{"request_id": request_id, "row": row, "label": label if right else flip[label]}
              for row, label in enumerate(frame["y"])]
    deployment = save_deployment(ws, name="churn", model_name="churn", model_version=1,
                                 requested="churn", deployed_by="ann", log_policy=log_policy)
    record_feedback(ws, ws.prediction_log, deployment=deployment, labels=labels,
                    spec=LabelSpec(TaskKind.BINARY, ("no", "yes")), submitted_by="ann")
    return [request_id]

