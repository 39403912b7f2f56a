"""`train(..., pii=)`: the policy reaches the model's features, its manifest and report, and a
model trained on hashed values predicts from raw ones wherever it is loaded or served."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import trainforge as tf
from trainforge.model import TrainedModel
from trainforge.serving.app import create_app
from trainforge.serving.served import ServedModel
from trainforge.workspace import Workspace

# the ip decides the label: a model that sees the right hash for a raw ip predicts it exactly
IPS = ["10.0.0.1", "192.168.4.20", "172.16.9.3", "8.8.4.4"]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    ip = rng.choice(IPS, 160)
    frame = pd.DataFrame({"ip": ip, "noise": rng.normal(size=160),
                          "email": [f"user{i}@example.com" for i in range(160)],
                          "note": [f"call me on 555-234-{1000 + i}" if i % 3 else "all fine"
                                   for i in range(160)],
                          "label": np.where(np.isin(ip, IPS[:2]), "yes", "no")})
    path = tmp_path_factory.mktemp("pii") / "people.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("home"))


def trained(table: Path, workspace: Workspace, pii: str) -> TrainedModel:
    return tf.train(table, target="label", trials=1, algorithm="linear", pii=pii,
                    workspace=workspace, name=f"people-{pii}")


@pytest.fixture(scope="module")
def hashed(table: Path, workspace: Workspace) -> TrainedModel:
    return trained(table, workspace, "hash")


@pytest.fixture(scope="module")
def dropped(table: Path, workspace: Workspace) -> TrainedModel:
    return trained(table, workspace, "drop")


def raw_rows() -> pd.DataFrame:
    return pd.DataFrame({"ip": IPS * 2, "noise": 0.0, "note": "call me on 555-234-9999"})


def test_drop_removes_the_column_from_the_models_features(dropped: TrainedModel):
    assert [f.name for f in dropped.loaded.tabular.features] == ["noise"]


def test_drop_is_written_in_the_manifest_saying_why(dropped: TrainedModel):
    personal = dropped.loaded.manifest["lineage"]["personal_data"]
    assert personal["policy"] == "drop"
    assert personal["columns"]["ip"].startswith("dropped column 'ip', which holds IP addresses")


def test_the_report_has_a_personal_data_section(dropped: TrainedModel):
    page = (dropped.loaded.path / "report.html").read_text(encoding="utf-8")
    assert "Personal data" in page and "dropped column &#39;ip&#39;" in page


def test_the_default_warns_and_the_manifest_says_the_model_was_trained_on_it(table, workspace):
    warned = trained(table, workspace, "warn")
    assert warned.loaded.manifest["lineage"]["personal_data"]["columns"]["ip"].startswith(
        "trained on column 'ip'")


def test_a_model_trained_on_hashed_values_predicts_raw_ones_once_loaded(hashed, workspace):
    loaded = workspace.registry.load("people-hash")
    expected = np.where(np.isin(raw_rows()["ip"], IPS[:2]), "yes", "no")
    assert list(loaded.tabular.predict(raw_rows())) == list(expected)


def test_the_served_model_predicts_what_the_loaded_one_does(hashed, workspace):
    loaded = workspace.registry.load("people-hash")
    client = TestClient(create_app({"people": loaded}))
    body = client.post("/v1/models/people/predict",
                       json={"records": raw_rows().to_dict("records")}).json()
    assert body["predictions"] == list(loaded.tabular.predict(raw_rows()))


def test_the_prediction_log_holds_a_hashed_column_as_the_model_sees_it(hashed, workspace,
                                                                       tmp_path: Path):
    from trainforge.monitoring.prediction_log import PredictionLog, read_predictions

    log = PredictionLog(tmp_path)
    client = TestClient(create_app({"people": workspace.registry.load("people-hash")},
                                   recorder=log))
    assert client.post("/v1/models/people/predict",
                       json={"records": raw_rows().to_dict("records")}).status_code == 200
    log.flush()
    logged = read_predictions(tmp_path, "people")
    assert len(logged) == len(raw_rows())
    assert not set(logged["in.ip"]) & set(IPS)  # never the addresses themselves...
    reference = hashed.loaded.path / "reference.json"
    shares = json.loads(reference.read_text())["features"]["ip"]["shares"]
    assert set(logged["in.ip"]) <= set(shares)  # ...but what drift compares with training
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*.parquet"))
    assert not [ip for ip in IPS if ip.encode() in raw]


def test_a_hashed_columns_raw_values_are_nowhere_in_the_package(hashed: TrainedModel):
    files = b"".join(p.read_bytes() for p in hashed.loaded.path.iterdir() if p.is_file())
    assert not [ip for ip in IPS if ip.encode() in files]


def test_a_model_with_masked_inputs_is_served_by_its_own_predict(table, workspace):
    # the compiled plans read raw values: only the model's predict masks them first
    trained(table, workspace, "mask")
    assert ServedModel(workspace.registry.load("people-mask")).compiled is None
