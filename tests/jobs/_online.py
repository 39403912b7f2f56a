"""A small model trained, deployed, its predictions logged and labelled: what an update reads."""

from __future__ import annotations

from pathlib import Path

from tests.monitoring._served import train_churn
from tests.training._tables import table

from trainforge.data.task import TaskKind
from trainforge.monitoring.feedback import LabelSpec, record_feedback
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.store.deployments import save_deployment
from trainforge.workspace import Workspace

FEATURES = ["x1", "x2", "colour"]


def trained(tmp_path: Path, algorithm: str) -> Workspace:
    """churn:1 trained afresh in ``tmp_path`` (its data in ``tmp_path/churn.csv``): for a test
    that changes the data; the others copy tests/conftest.py's ``churn_home_of(algorithm)``."""
    return Workspace(train_churn(tmp_path, algorithm=algorithm))


def labelled(ws: Workspace, *, n_rows: int = 60, label: str | None = None) -> str:
    """Deploy churn:1, log one request of ``n_rows`` rows, label every row ``label`` (None:
    each row the class it is not: the model has much to learn)."""
    deployment = save_deployment(ws, name="churn", model_name="churn", model_version=1,
                                 requested="churn", deployed_by="ann", log_policy=None)
    frame, _ = table(TaskKind.BINARY, n_rows=n_rows, seed=7)
    request_id = new_request_id()
    log = PredictionLog(ws.prediction_log)
    log.record(deployment="churn", model="churn", version=1, request_id=request_id,
               inputs={f: frame[f].tolist() for f in FEATURES},
               outputs={"prediction": frame["y"].tolist()}, n_rows=n_rows, latency_s=0.001)
    log.flush()
    record_feedback(ws, ws.prediction_log, deployment=deployment,
                    labels=[{"request_id": request_id, "row": row,
                             "label": label or {"yes": "no", "no": "yes"}[truth]}
                            for row, truth in enumerate(frame["y"])],
                    spec=LabelSpec(TaskKind.BINARY, ("no", "yes")), submitted_by="ann")
    return request_id
