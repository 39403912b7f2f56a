"""`trainforge federated simulate --model xgboost` end to end: a coordinator (Flower's XGBoost
bagging) and three holder processes from Flower's virtualenv on 127.0.0.1, two rounds on a
table the project ships; the global booster is registered as the catalog's XGBoost, predicts
better than the majority class, and is served with the numbers it predicts in process.

Needs Flower's virtualenv with XGBoost (`make federated`, or TRAINFORGE_FLOWER_VENV).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.federated._holders import SLOW_FEDERATION_S, simulated

from trainforge.config import FederatedSimulationConfig
from trainforge.data.read import read_table
from trainforge.jobs.federate import FEDERATION_FILE, FederatedOutcome
from trainforge.serving.app import create_app
from trainforge.workspace import Workspace

pytestmark = [pytest.mark.federated, pytest.mark.slow, pytest.mark.timeout(SLOW_FEDERATION_S)]
CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Workspace, FederatedOutcome]:
    config = FederatedSimulationConfig(data=str(CREDIT), target="class", clients=3,
                                       partition="iid", rounds=2, local_epochs=4,
                                       learning_rate=0.3, model="xgboost",
                                       name="credit-trees")
    return simulated(tmp_path_factory.mktemp("trees"), config)


def test_the_global_booster_is_registered_as_the_catalogs_xgboost(federation):
    workspace, _ = federation
    loaded = workspace.registry.load("credit-trees")
    manifest = json.loads((loaded.path / "manifest.json").read_text())
    assert type(loaded.model.members[0].estimator).__name__ == "XGBoostModel"
    assert (manifest["lineage"]["model"], manifest["lineage"]["strategy"]) == ("xgboost",
                                                                                 "xgb-bagging")


def test_the_federated_trees_beat_the_majority_class_on_the_held_out_rows(federation):
    workspace, outcome = federation
    shares = json.loads((workspace.registry.load("credit-trees").path / FEDERATION_FILE
                         ).read_text())["holders"]
    majority = max(sum(h["n_rows"] * h["class_shares"][c] for h in shares)
                   for c in ("good", "bad")) / sum(h["n_rows"] for h in shares)
    assert outcome.federated.metrics["accuracy"] > majority + 0.02
    assert outcome.federated.metrics["roc_auc"] > 0.7


def test_each_round_every_holder_sent_only_its_new_trees_and_got_the_whole_booster(federation):
    _, outcome = federation
    first, second = ({name: (c["bytes_down"], c["bytes_up"]) for name, c in r["clients"].items()}
                     for r in outcome.rounds)
    assert sorted(second) == ["client-0", "client-1", "client-2"]
    # round 2's booster holds round 1's trees of all three holders: it outgrows what one sent
    assert all(second[name][0] > first[name][0] for name in second)
    assert all(second[name][1] < second[name][0] for name in second)


def test_the_registered_package_is_served_with_its_own_probabilities(federation):
    workspace, _ = federation
    loaded = workspace.registry.load("credit-trees")
    rows = read_table(CREDIT).frame.drop(columns=["class"]).head(20)
    answer = TestClient(create_app({"credit": loaded})).post(
        "/v1/models/credit/predict", json={"records": rows.to_dict(orient="records")})
    assert answer.status_code == 200, answer.text
    served = [[p["bad"], p["good"]] for p in answer.json()["probabilities"]]
    assert np.allclose(served, loaded.model.predict_proba(rows), atol=1e-6)


def test_the_centralised_xgboost_is_scored_on_the_same_rows_in_the_same_report(federation):
    workspace, outcome = federation
    assert outcome.centralised.n_rows == outcome.federated.n_rows
    report = (workspace.registry.load("credit-trees").path / "report.html").read_text()
    assert "same XGBoost" in report
    assert f"{outcome.centralised.metrics['roc_auc']:.4f}" in report
