"""The cluster, anomalies, rl_train, rl_eval and federated_simulate bodies of POST /api/v1/jobs: checked in full
before anything is queued (no worker runs here)."""

from __future__ import annotations

import sys

import pytest
from tests._paths import EXAMPLES
from tests.server.conftest import bearer

WINE = EXAMPLES / "wine.csv"


@pytest.fixture
def editor(tokens) -> dict[str, str]:
    return bearer(tokens["editor"])


@pytest.fixture
def wine(client, editor) -> str:
    with WINE.open("rb") as handle:
        answer = client.post("/api/v1/datasets", headers=editor,
                             files={"file": ("wine.csv", handle)})
    return str(answer.json()["id"])


def test_a_cluster_job_is_queued_with_the_options_of_trainforge_cluster(client, editor, wine):
    answer = client.post("/api/v1/jobs", headers=editor, json={
        "kind": "cluster", "dataset": wine, "exclude": ["cultivar"], "method": "kmeans",
        "k": 3, "time_budget": 10})
    assert answer.status_code == 201, answer.text
    settings = answer.json()["config"]["cluster"]
    assert settings["exclude"] == ["cultivar"] and settings["k"] == 3
    assert settings["time_budget_s"] == 10 and "data" not in settings


def test_an_anomalies_job_is_queued_with_its_share_of_anomalies(client, editor, wine):
    answer = client.post("/api/v1/jobs", headers=editor, json={
        "kind": "anomalies", "dataset": wine, "method": "lof", "contamination": 0.05})
    assert answer.status_code == 201, answer.text
    assert answer.json()["config"]["anomalies"]["contamination"] == 0.05


def test_an_rl_train_job_is_queued_with_a_registered_environment(client, editor):
    answer = client.post("/api/v1/jobs", headers=editor, json={
        "kind": "rl_train", "env": "CartPole-v1", "timesteps": 2048, "algo": "ppo"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["config"]["rl_train"]["env"] == "CartPole-v1"


def test_a_federated_simulation_job_is_queued_with_the_options_of_the_cli(client, editor, wine):
    answer = client.post("/api/v1/jobs", headers=editor, json={
        "kind": "federated_simulate", "dataset": wine, "target": "cultivar", "clients": 3,
        "partition": "dirichlet:0.5", "rounds": 4, "strategy": "fedprox"})
    assert answer.status_code == 201, answer.text
    settings = answer.json()["config"]["federated_simulate"]
    assert (settings["clients"], settings["rounds"], settings["strategy"]) == (3, 4, "fedprox")
    assert "data" not in settings


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "federated_simulate", "dataset": "WINE", "target": "cultivr"}, "target"),
    ({"kind": "federated_simulate", "dataset": "WINE", "target": "cultivar", "clients": 1},
     "clients"),
    ({"kind": "federated_simulate", "dataset": "WINE", "target": "cultivar",
      "strategy": "fedsgd"}, "strategy"),
    ({"kind": "cluster", "dataset": "WINE", "features": ["alcohol", "acidity"]}, "features"),
    ({"kind": "cluster", "dataset": "WINE", "exclude": ["cultivr"]}, "exclude"),
    ({"kind": "cluster", "dataset": "WINE", "method": "dbscan"}, "method"),
    ({"kind": "cluster", "dataset": "WINE", "k": 0}, "k"),
    ({"kind": "cluster", "dataset": "WINE", "time_budget_s": 5}, "time_budget_s"),
    ({"kind": "cluster", "dataset": "WINE", "name": "../etc"}, "name"),
    ({"kind": "anomalies", "dataset": "WINE", "method": "kmeans"}, "method"),
    ({"kind": "anomalies", "dataset": "WINE", "contamination": 0.7}, "contamination"),
    ({"kind": "anomalies", "dataset": "WINE", "top": True}, "top"),
    ({"kind": "rl_train", "env": "CartPol-v1"}, "env"),
    ({"kind": "rl_train", "env": "CartPole-v1", "algo": "PPG"}, "algo"),
    ({"kind": "rl_train", "env": "CartPole-v1", "timesteps": 0}, "timesteps"),
    ({"kind": "rl_train", "env": "CartPole-v1", "checkpoint_every": 10}, "checkpoint_every"),
    ({"kind": "rl_eval", "model": "nope"}, "model"),
])
def test_an_invalid_job_body_is_a_422_naming_the_field(client, editor, wine, body, field):
    body = {k: wine if v == "WINE" else v for k, v in body.items()}
    answer = client.post("/api/v1/jobs", headers=editor, json=body)
    assert answer.status_code == 422, answer.text
    assert field in str(answer.json()["detail"])


@pytest.mark.parametrize("env", ["tf_planted_env:Grid", "tf_planted_env:Grid-v0"])
def test_an_rl_environment_named_as_a_module_is_refused_without_importing_it(
        client, editor, tmp_path, monkeypatch, env):
    planted = tmp_path / "tf_planted_env.py"
    planted.write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    answer = client.post("/api/v1/jobs", headers=editor, json={"kind": "rl_train", "env": env})
    assert answer.status_code == 422 and "registered Gymnasium id" in answer.json()["detail"]
    assert not (tmp_path / "imported").exists() and "tf_planted_env" not in sys.modules


def test_the_openapi_says_a_job_takes_only_registered_environments(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "module:Class environments run only from the CLI" in \
        schemas["RLTrainJob"]["properties"]["env"]["description"]


def test_replaying_a_table_model_is_refused_naming_the_model(trained_client, trained_tokens):
    answer = trained_client.post("/api/v1/jobs", headers=bearer(trained_tokens["editor"]),
                                 json={"kind": "rl_eval", "model": "credit"})
    assert answer.status_code == 422 and "not a policy" in answer.json()["detail"]
