"""The platform's model route explains a deployed image or text network as `trainforge serve`
does: ``POST /v1/models/{name}/predict?explain=true`` answers each record's top words."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer
from tests.serving.network_models import texts

from trainforge.config import ServerConfig
from trainforge.registry.loaded import LoadedModel
from trainforge.server.app import create_server_app
from trainforge.serving.network_explain import MAX_EXPLAINED_INPUTS
from trainforge.workspace import Workspace


@pytest.fixture
def deployed(workspace: Workspace, tokens: dict[str, str], text_network_model: LoadedModel
             ) -> TestClient:
    """``words`` 1, tests/conftest.py's text network, deployed on a fresh platform."""
    workspace.registry.register(text_network_model.model, name="words", metrics={}, lineage={})
    client = TestClient(create_server_app(workspace, ServerConfig()))
    answer = client.post("/api/v1/deployments", headers=bearer(tokens["editor"]),
                         json={"model": "words:1"})
    assert answer.status_code == 201, answer.text
    return client


def test_a_deployed_text_network_answers_each_records_top_words(deployed, tokens):
    sent, level = texts(4, seed=3)
    with deployed as client:
        answer = client.post("/v1/models/words/predict?explain=true&top_k=2",
                             headers=bearer(tokens["viewer"]),
                             json={"records": [{"text": t} for t in sent]})
    assert answer.status_code == 200, answer.text
    explained = [e[0] for e in answer.json()["explanations"]]
    assert [e["words"][0]["word"] for e in explained] == [["alpha", "bravo", "charlie"][v]
                                                          for v in level]


def test_too_many_records_to_explain_on_the_platform_is_a_413(deployed, tokens):
    with deployed as client:
        answer = client.post("/v1/models/words/predict?explain=true",
                             headers=bearer(tokens["viewer"]),
                             json={"records": [{"text": "alpha"}] * (MAX_EXPLAINED_INPUTS + 1)})
    assert answer.status_code == 413
    assert f"at most {MAX_EXPLAINED_INPUTS}" in answer.json()["detail"]
