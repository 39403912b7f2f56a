"""`POST /api/v1/federations` with ``"model": "xgboost"``: the holders that join get a plan
of trees bagged across them, and FedProx, which trees cannot take, is refused at creation."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.server._jobs import upload
from tests.server.conftest import bearer

from trainforge.data.read import read_table
from trainforge.jobs.federation import declare_from_sample, summarize
from trainforge.store import federations as store
from trainforge.workspace import Workspace

CREDIT = EXAMPLES / "credit_g.csv"


def _create(client: TestClient, workspace: Workspace, token: str, **settings: object):
    return client.post("/api/v1/federations", headers=bearer(token), json={
        "name": "credit-trees", "target": "class", "min_clients": 3, "rounds": 2,
        "dataset": upload(workspace, CREDIT), **settings})


def test_a_holder_joining_a_tree_federation_gets_the_plan_of_bagged_trees(
        client, workspace, tokens):
    created = _create(client, workspace, tokens["editor"], model="xgboost")
    assert created.status_code == 201, created.text
    summary = summarize(read_table(CREDIT), declare_from_sample(CREDIT, "class"))
    joined = client.post("/api/v1/federations/credit-trees/join",
                         headers=bearer(created.json()["tokens"][0]), json=summary)
    assert joined.status_code == 200, joined.text
    plan = joined.json()["plan"]
    assert (plan["model"], plan["strategy"]) == ("xgboost", "xgb-bagging")


def test_a_tree_federation_with_fedprox_is_refused_saying_why_and_not_recorded(
        client, workspace, tokens):
    answer = _create(client, workspace, tokens["editor"], model="xgboost", strategy="fedprox")
    assert answer.status_code == 422, answer.text
    assert "--strategy fedprox (its proximal term pulls weights" in answer.text
    assert store.list_federations(workspace) == []
