"""`trainforge federated simulate` with networks and central differential privacy, end to end
(a coordinator and client processes from Flower's virtualenv over gRPC on 127.0.0.1): a CNN
federated over the digit images the project ships, served like any registered model; an MLP
under a DP budget whose ε is recorded round by round; and a budget too small to train,
refused before any process starts.

Needs Flower's virtualenv (`make federated`, or TRAINFORGE_FLOWER_VENV).
"""

from __future__ import annotations

import json
import os

import pytest
from tests._paths import EXAMPLES, ROOT

from trainforge.config import FederatedSimulationConfig
from trainforge.data.images import read_image_folder
from trainforge.errors import PrivacyBudgetTooSmall
from trainforge.jobs.federate import run_federated_simulation
from trainforge.jobs.model_cards import model_card, render_card
from trainforge.store.runs import get_run, list_runs
from trainforge.workspace import Workspace

pytestmark = [pytest.mark.federated, pytest.mark.slow]
DIGITS = EXAMPLES / "digits"
CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture(scope="module")
def flower_venv():
    with pytest.MonkeyPatch.context() as patch:
        # the checkout's own Flower virtualenv (make federated) unless one is named
        patch.setenv("TRAINFORGE_FLOWER_VENV",
                     os.environ.get("TRAINFORGE_FLOWER_VENV", str(ROOT / ".venv-flower")))
        yield


@pytest.fixture(scope="module")
def digits(flower_venv, tmp_path_factory):
    workspace = Workspace(tmp_path_factory.mktemp("digits"))
    config = FederatedSimulationConfig(data=str(DIGITS), target="label", clients=3,
                                       partition="iid", rounds=4, local_epochs=4,
                                       image_size=14, name="digits-federated")
    return workspace, run_federated_simulation(config, workspace=workspace)


def test_an_image_folder_federates_a_cnn_that_learns_the_digits(digits):
    _, outcome = digits
    assert outcome.federated.metrics["accuracy"] > 0.3  # ten classes: chance is 0.1


def test_the_federated_cnn_is_a_package_that_predicts_every_image(digits):
    workspace, _ = digits
    loaded = workspace.registry.load("digits-federated")
    images = read_image_folder(DIGITS).frame
    predicted = loaded.model.predict(images.drop(columns=["label"]))
    assert len(predicted) == 600 and set(predicted) <= {str(d) for d in range(10)}
    assert json.loads((loaded.path / "manifest.json").read_text())["lineage"]["model"] == "cnn"


@pytest.fixture(scope="module")
def private(flower_venv, tmp_path_factory):
    workspace = Workspace(tmp_path_factory.mktemp("private"))
    config = FederatedSimulationConfig(data=str(CREDIT), target="class", clients=3, rounds=2,
                                       model="mlp", dp_epsilon=8.0, dp_delta=1e-5,
                                       dp_max_grad_norm=2.0, name="credit-private")
    return workspace, run_federated_simulation(config, workspace=workspace)


def test_the_epsilon_spent_grows_each_round_within_the_budget(private):
    workspace, outcome = private
    spent = [p["value"] for p in get_run(workspace, outcome.run_id)["series"]["dp_epsilon"]]
    assert len(spent) == 2 and 0 < spent[0] < spent[1] <= 8.0


def test_the_privacy_budget_is_in_the_manifest_and_the_model_card(private):
    workspace, _ = private
    loaded = workspace.registry.load("credit-private")
    record = json.loads((loaded.path / "manifest.json").read_text())["lineage"][
        "differential_privacy"]
    assert (record["mechanism"], record["target_epsilon"], record["clients"]) == ("central",
                                                                                  8.0, 3)
    card = render_card(model_card(workspace, "credit-private"), "md")
    assert "central differential privacy" in card and "clipped to an L2 norm of 2" in card


def test_an_epsilon_too_small_to_train_is_refused_before_any_process_starts(flower_venv,
                                                                            tmp_path):
    workspace = Workspace(tmp_path)
    config = FederatedSimulationConfig(data=str(CREDIT), target="class", clients=3, rounds=10,
                                       dp_epsilon=0.2)
    with pytest.raises(PrivacyBudgetTooSmall, match=r"10 rounds of 3 clients.*smallest usable "
                                                    r"ε here is about 5\.0"):
        run_federated_simulation(config, workspace=workspace)
    assert list_runs(workspace) == []
