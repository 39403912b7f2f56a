"""What the fuzz tests aim at: `trainforge serve`'s app over three real trained models, and the
platform server over a workspace holding them, with a token of each role, one deployment, one
uploaded dataset and one queued training job (no worker runs, so it stays queued).

The models are trained once per session (``trials=1``: reproducible, ~12 s in all); each
server test gets the app over a workspace copy that no other test writes to.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from tests._paths import EXAMPLES

from trainforge.config import FederationConfig, ServerConfig
from trainforge.jobs.federation import create_federation, declare_from_sample, make_client_token
from trainforge.server.app import create_server_app
from trainforge.serving.app import create_app
from trainforge.store import access
from trainforge.store.runs import list_runs
from trainforge.workspace import Workspace

ROLES = ("viewer", "editor", "admin")
# schemathesis' default list of ways to refuse a request the schema forbids, plus 413: a batch
# over the documented maxItems is refused as too large, which is what it is (RFC 9110 15.5.14)
FUZZ_CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                          "428", "429", "5xx"]}}})
# name → (file in examples/, target, algorithm): a binary classifier on trees (with yes/no and
# category columns), a linear regressor, a linear multiclass classifier
MODELS = {"credit": ("credit_g.csv", "class", "lightgbm"),
          "concrete": ("concrete.csv", "compressive_strength", "linear"),
          "wine": ("wine.csv", "cultivar", "linear")}
DEPLOYED = "credit"  # served by the platform at /v1/models/credit/predict


@dataclass(frozen=True)
class FuzzHome:
    """A workspace with the trained MODELS, DEPLOYED deployed, a token per role, and the ids of
    real things in it (``aim``: path parameter → value) for the fuzz to reach past the 404s."""

    path: Path
    tokens: dict[str, str]
    aim: dict[str, str]

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="session")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> FuzzHome:
    import trainforge as tf

    home = tmp_path_factory.mktemp("fuzz") / "home"
    workspace = Workspace(home)
    for name, (csv, target, algorithm) in MODELS.items():
        tf.train(EXAMPLES / csv, target=target, name=name, trials=1, algorithm=algorithm,
                 workspace=workspace)
    tokens = {role: access.create_token(workspace, name=f"fuzz-{role}", role=role)[0]
              for role in ROLES}
    # a federation named as the deployed model, so a fuzzed {name} reaches it, and its client
    create_federation(FederationConfig(name=DEPLOYED, target="class", min_clients=1),
                      declare_from_sample(EXAMPLES / "credit_g.csv", "class"),
                      workspace=workspace, created_by="fuzz")
    tokens["client"] = make_client_token(workspace, DEPLOYED, created_by="fuzz")
    app = create_server_app(workspace)
    app.state.deployments.deploy(DEPLOYED, deployed_by="fuzz")
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    with TestClient(app) as client, (EXAMPLES / "credit_g.csv").open("rb") as table:
        upload_id = client.post("/api/v1/datasets", headers=editor,
                                files={"file": ("credit_g.csv", table, "text/csv")}).json()["id"]
        job_id = client.post("/api/v1/jobs", headers=editor, json={
            "kind": "train", "dataset": upload_id, "target": "class", "trials": 1}).json()["id"]
    aim = {"name": DEPLOYED, "upload_id": upload_id, "job_id": job_id,
           "run_id": list_runs(workspace, 1)[0]["id"]}
    workspace.close()
    return FuzzHome(home, tokens, aim)


@pytest.fixture(scope="session")
def serve_app(fuzz_home: FuzzHome) -> Iterator[Any]:
    """`trainforge serve credit concrete wine`'s app (it only reads the workspace)."""
    workspace = Workspace(fuzz_home.path)
    yield create_app({name: workspace.registry.load(name) for name in MODELS})
    workspace.close()


@pytest.fixture(scope="session")
def serve_schema(serve_app: Any) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", serve_app, config=FUZZ_CONFIG)


def _server_over_copy(fuzz_home: FuzzHome, home: Path) -> tuple[Any, Workspace]:
    shutil.copytree(fuzz_home.path, home)
    workspace = Workspace(home)
    return create_server_app(workspace, ServerConfig()), workspace


@pytest.fixture(scope="session")
def shared_server(fuzz_home: FuzzHome, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Any]:
    """The platform app for routes that only read: one copy of the workspace for all."""
    app, workspace = _server_over_copy(fuzz_home, tmp_path_factory.mktemp("read") / "home")
    yield app
    workspace.close()


@pytest.fixture(scope="session")
def server_schema(shared_server: Any) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", shared_server, config=FUZZ_CONFIG)


@pytest.fixture
def own_server(fuzz_home: FuzzHome, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Makes a platform app over this test's own copy of the workspace: for routes that may
    change it (delete the deployed model, revoke a token), so no other test sees the change."""
    opened: list[Workspace] = []

    def make() -> Any:
        app, workspace = _server_over_copy(fuzz_home, tmp_path / "home")
        opened.append(workspace)
        return app

    yield make
    for workspace in opened:
        workspace.close()
