"""Serving a policy: POST /v1/models/{name}/act turns an observation into an action."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from trainforge.registry.loaded import LoadedModel
from trainforge.rl.package import PolicyModel
from trainforge.rl.policy_files import load_policy, save_policy
from trainforge.rl.training import train_agent
from trainforge.serving.acting import ACT_BODY_BYTES, MAX_OBSERVATIONS
from trainforge.serving.app import create_app
from trainforge.workspace import Workspace

torch.set_num_threads(1)

UPRIGHT = [0.0, 0.0, 0.02, 0.0]  # a CartPole state: cart centred, pole nearly upright


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding one CartPole policy, "cartpole" (trained briefly: acting is what
    is tested, not how well)."""
    home = tmp_path_factory.mktemp("policy-home")
    agent = train_agent("CartPole-v1", timesteps=256, seed=0)
    files = tmp_path_factory.mktemp("policy-files")
    save_policy(agent, files)
    Workspace(home).registry.register(PolicyModel(load_policy(files)), name="cartpole",
                                      metrics={"test": {"mean_return": 9.0}},
                                      lineage={"env": "CartPole-v1"})
    return home


@pytest.fixture(scope="module")
def policy(home: Path) -> LoadedModel:
    return Workspace(home).registry.load("cartpole")


@pytest.fixture(scope="module")
def client(policy: LoadedModel) -> TestClient:
    return TestClient(create_app({"cartpole": policy}))


def test_act_returns_an_action_of_the_environment(client):
    answer = client.post("/v1/models/cartpole/act", json={"observation": UPRIGHT})
    assert answer.status_code == 200
    assert answer.json()["model"] == "cartpole:1"
    assert answer.json()["action"] in (0, 1)


def test_a_batch_of_observations_gets_one_action_each(client):
    answer = client.post("/v1/models/cartpole/act", json={"observations": [UPRIGHT] * 3})
    assert answer.status_code == 200
    assert len(answer.json()["actions"]) == 3


def test_an_observation_of_the_wrong_shape_is_a_422_naming_both_shapes(client):
    answer = client.post("/v1/models/cartpole/act", json={"observation": [0.0, 0.1, 0.2]})
    assert answer.status_code == 422
    assert "has shape (3,) but the policy expects (4,)" in answer.json()["detail"]


def test_an_observation_that_is_not_numbers_is_a_422(client):
    answer = client.post("/v1/models/cartpole/act", json={"observation": ["left", 0, 0, 0]})
    assert answer.status_code == 422
    assert "numbers" in answer.json()["detail"]


def test_a_batch_over_the_observation_limit_is_a_422_that_does_not_echo_it(client):
    answer = client.post("/v1/models/cartpole/act",
                         json={"observations": [[123456789.5] * 4] * (MAX_OBSERVATIONS + 1)})
    assert answer.status_code == 422 and "123456789" not in answer.text
    assert len(answer.text) < 1000


def test_a_body_over_the_act_limit_is_a_413(client):
    answer = client.post("/v1/models/cartpole/act", content=b"[" * (ACT_BODY_BYTES + 1),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


def test_predict_on_a_policy_answers_409_pointing_at_act(client):
    answer = client.post("/v1/models/cartpole/predict", json={"records": [{"x": 1}]})
    assert answer.status_code == 409
    assert "/v1/models/cartpole/act" in answer.json()["detail"]


def test_the_policys_409_on_predict_is_documented(client):
    operation = client.get("/openapi.json").json()["paths"]["/v1/models/cartpole/predict"]
    assert "application/json" in operation["post"]["responses"]["409"]["content"]


def test_the_act_route_is_documented_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/models/cartpole/act"]["post"]["responses"]) >= {"200", "422"}


def test_health_lists_the_policy(client):
    assert client.get("/health").json()["models"] == ["cartpole:1"]


@pytest.mark.slow
def test_serving_a_policy_never_imports_the_training_code(home):
    script = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from trainforge.serving.app import create_app\n"
        "from trainforge.workspace import Workspace\n"
        f"loaded = Workspace({str(home)!r}).registry.load('cartpole')\n"
        "client = TestClient(create_app({'cartpole': loaded}))\n"
        f"body = {{'observation': {UPRIGHT!r}}}\n"
        "assert client.post('/v1/models/cartpole/act', json=body).status_code == 200\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.startswith(('trainforge.training', 'trainforge.runtime'))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
