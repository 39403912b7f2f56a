"""`trainforge federated simulate` end to end: a coordinator and three client processes from
Flower's virtualenv over gRPC on 127.0.0.1, two rounds on a table the project ships; the
registered model predicts like any other, and each holder's figures are recorded.

Needs Flower's virtualenv (`make federated`, or TRAINFORGE_FLOWER_VENV): `make
test-federated` runs these; `make test` leaves them out.
"""

from __future__ import annotations

import json

import pytest
from tests._paths import EXAMPLES
from tests.federated._holders import SLOW_FEDERATION_S, simulated

from trainforge.config import FederatedSimulationConfig
from trainforge.data.read import read_table
from trainforge.federated import plan as plan_module
from trainforge.jobs.federate import FEDERATION_FILE, FederatedOutcome
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

# the module's federation is set up within the first test's time limit
pytestmark = [pytest.mark.federated, pytest.mark.slow, pytest.mark.timeout(SLOW_FEDERATION_S)]
CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Workspace, FederatedOutcome]:
    config = FederatedSimulationConfig(data=str(CREDIT), target="class", clients=3,
                                       partition="dirichlet:1.0", rounds=2,
                                       strategy="fedprox", name="credit-federated")
    return simulated(tmp_path_factory.mktemp("federated"), config)


def test_the_registered_model_predicts_every_row(federation):
    workspace, _ = federation
    loaded = workspace.registry.load("credit-federated")
    predicted = loaded.model.predict(read_table(CREDIT).frame.drop(columns=["class"]))
    assert len(predicted) == 1000 and set(predicted) <= {"good", "bad"}


def test_the_federated_model_learns_more_than_the_class_shares(federation):
    _, outcome = federation
    assert outcome.federated.metrics["roc_auc"] > 0.7


def test_each_holder_has_its_own_held_out_figures_and_the_weighted_mean(federation):
    workspace, _ = federation
    package = workspace.registry.load("credit-federated").path
    record = json.loads((package / FEDERATION_FILE).read_text())
    assert sorted(record["clients"]) == ["client-0", "client-1", "client-2"]
    assert all("accuracy" in metrics for metrics in record["clients"].values())
    assert 0.0 < record["weighted"]["accuracy"] <= 1.0


def test_the_holders_own_evaluation_matches_the_one_trainforge_makes_of_their_rows(federation):
    _, outcome = federation
    last = outcome.rounds[-1]["clients"]
    assert {name: round(last[name]["accuracy"], 6) for name in outcome.clients} == {
        name: round(e.metrics["accuracy"], 6) for name, e in outcome.clients.items()}


def test_every_round_is_in_the_runs_series_with_each_client(federation):
    workspace, outcome = federation
    series = get_run(workspace, outcome.run_id)["series"]
    assert [point["step"] for point in series["loss"]] == [1, 2]
    assert [p["value"] for p in series["participating_clients"]] == [3.0, 3.0]
    assert {key for key in series if key.startswith("clients.")} >= {
        f"clients.client-{i}.accuracy" for i in range(3)}


def test_the_centralised_model_is_scored_on_the_same_held_out_rows(federation):
    _, outcome = federation
    assert outcome.centralised.n_rows == outcome.federated.n_rows == sum(
        e.n_rows for e in outcome.clients.values())


def test_the_report_sets_the_federated_model_beside_the_centralised_one(federation):
    workspace, outcome = federation
    page = (workspace.registry.load("credit-federated").path / "report.html").read_text()
    assert "Federated against centralised" in page
    assert f"{outcome.centralised.metrics['roc_auc']:.4f}" in page
    assert all(name in page for name in outcome.clients)


@pytest.fixture(scope="module")
def averaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, FederatedOutcome]:
    # auto averages from 20 rounds on; 20 rounds of processes take minutes here, so the
    # threshold is lowered to this federation's 5 rounds: it keeps the mean of rounds 4 and 5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan_module, "AUTO_MOMENTUM_ROUNDS", 5)
        config = FederatedSimulationConfig(data=str(CREDIT), target="class", clients=3,
                                           partition="dirichlet:1.0", rounds=5,
                                           name="credit-averaged")
        return simulated(tmp_path_factory.mktemp("averaged"), config)


def test_a_long_auto_federation_registers_the_mean_of_its_last_rounds(averaged):
    workspace, outcome = averaged
    lineage = json.loads((workspace.registry.load("credit-averaged").path / "manifest.json"
                          ).read_text())["lineage"]
    assert lineage["strategy"] == "fedavgm"
    assert lineage["kept"].startswith("the mean of the global weights after rounds 4 to 5")
    assert [r["round"] for r in outcome.rounds] == [1, 2, 3, 4, 5]


def test_the_holders_evaluated_the_registered_mean_as_trainforge_scores_it(averaged):
    _, outcome = averaged
    assert outcome.kept is not None
    assert {name: round(outcome.kept["clients"][name]["accuracy"], 6) for name in outcome.clients
            } == {name: round(e.metrics["accuracy"], 6) for name, e in outcome.clients.items()}


def test_the_run_shows_each_rounds_model_and_the_registered_mean_beside_the_last(averaged):
    workspace, outcome = averaged
    series = get_run(workspace, outcome.run_id)["series"]
    assert [point["step"] for point in series["accuracy"]] == [1, 2, 3, 4, 5]
    assert [(p["step"], p["value"]) for p in series["kept.accuracy"]] == [
        (5, pytest.approx(outcome.kept["metrics"]["accuracy"]))]


def test_the_report_says_which_model_was_registered(averaged):
    workspace, _ = averaged
    page = (workspace.registry.load("credit-averaged").path / "report.html").read_text()
    assert "The registered model, scored here, is the mean of the global weights after rounds " \
           "4 to 5" in page
