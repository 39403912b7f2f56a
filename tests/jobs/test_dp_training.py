"""`trainforge train --dp-epsilon`: DP-SGD networks only, the budget in the run, the manifest,
the report and the model card, and clear refusals before anything trains."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests._paths import EXAMPLES

from trainforge.config import TrainConfig
from trainforge.errors import NoPrivateAlgorithm, PrivacyBudgetTooSmall
from trainforge.jobs.train import TrainingOutcome, run_training
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

pytest.importorskip("opacus")
Image = pytest.importorskip("PIL.Image")

# DP-SGD's epochs hold rows / batch Poisson steps of per-row gradients, so a private fit costs
# its rows: 40 of each shade (not 60) take two thirds of the steps, and the sample rate
# (64 / rows) stays below 1, as the manifest test asserts
PER_SHADE = 40
# each planned epoch costs its steps of per-row gradients: 6 of the CNN's 30 spend the same
# budget (the noise is calibrated to the epochs planned) and fill the same records
EPOCHS = 6


@pytest.fixture(scope="module")
def shades(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes of 8×8 grey images told apart by their brightness: PER_SHADE of each."""
    root = tmp_path_factory.mktemp("shades")
    rng = np.random.default_rng(0)
    for level, name in enumerate(("dark", "grey", "light")):
        (root / name).mkdir()
        for i in range(PER_SHADE):
            pixels = rng.integers(0, 60, size=(8, 8)) + 90 * level
            buffer = io.BytesIO()
            Image.fromarray(pixels.astype(np.uint8), mode="L").save(buffer, format="PNG")
            (root / name / f"{i}.png").write_bytes(buffer.getvalue())
    return root


@pytest.fixture(scope="module")
def private_run(shades: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Workspace, TrainingOutcome]:
    workspace = Workspace(tmp_path_factory.mktemp("home"))
    config = TrainConfig(data=str(shades), algorithm="auto", trials=1, seed=1, name="shades",
                         dp_epsilon=8.0, max_epochs=EPOCHS)
    return workspace, run_training(config, workspace=workspace)


def _manifest(outcome: TrainingOutcome) -> dict[str, Any]:
    return json.loads((outcome.version.path / "manifest.json").read_text())


@pytest.mark.slow  # a whole training run: minutes on a loaded machine
def test_a_private_run_spends_at_most_its_epsilon_and_the_manifest_says_how(
        private_run: tuple[Workspace, TrainingOutcome]):
    privacy = _manifest(private_run[1])["lineage"]["differential_privacy"]
    assert privacy["epsilon"] <= privacy["target_epsilon"] == 8.0
    assert (privacy["algorithm"], privacy["delta"], privacy["max_grad_norm"]) == ("cnn", 1e-5,
                                                                                  1.0)
    assert privacy["noise_multiplier"] > 0 and 0 < privacy["sample_rate"] < 1
    assert privacy["epochs"] >= 1 and "per trained network" in privacy["scope"]


@pytest.mark.slow  # a whole training run: minutes on a loaded machine
def test_a_private_run_is_trained_by_a_network_only(
        private_run: tuple[Workspace, TrainingOutcome]):
    trials = [c for c in private_run[1].search.leaderboard if c.number is not None]
    assert {c.algorithm for c in trials} == {"cnn"}


@pytest.mark.slow  # a whole training run: minutes on a loaded machine
def test_the_report_and_the_model_card_carry_the_budget(
        private_run: tuple[Workspace, TrainingOutcome]):
    path = private_run[1].version.path
    spent = _manifest(private_run[1])["lineage"]["differential_privacy"]["epsilon"]
    report = (path / "report.html").read_text()
    card = (path / "MODEL_CARD.md").read_text()
    assert 'id="differential-privacy"' in report and f"ε = {spent:.3g} spent" in report
    assert "## Differential privacy" in card and f"ε = {spent:.3g} spent" in card


@pytest.mark.slow  # a whole training run: minutes on a loaded machine
def test_the_epsilon_spent_is_a_metric_of_the_run_each_epoch(
        private_run: tuple[Workspace, TrainingOutcome]):
    workspace, outcome = private_run
    series = get_run(workspace, outcome.run_id)["series"]["trial0.cnn.epsilon"]
    values = [point["value"] for point in series]
    assert values == sorted(values) and values[-1] <= 8.0


@pytest.mark.slow  # a whole training run: minutes on a loaded machine
def test_an_epsilon_too_small_ends_the_run_before_training(shades: Path, tmp_path: Path):
    config = TrainConfig(data=str(shades), algorithm="cnn", trials=1, dp_epsilon=0.01)
    with pytest.raises(PrivacyBudgetTooSmall, match="--dp-epsilon 0.01 is too small"):
        run_training(config, workspace=Workspace(tmp_path))


def test_a_tree_model_with_dp_is_refused_naming_it(tmp_path: Path):
    config = TrainConfig(data=str(EXAMPLES / "wine.csv"), target="cultivar", algorithm="lightgbm",
                         dp_epsilon=3.0)
    with pytest.raises(NoPrivateAlgorithm, match="'lightgbm' is a boosting model"):
        run_training(config, workspace=Workspace(tmp_path))


def test_dp_on_a_plain_table_says_no_network_learns_tables_here(tmp_path: Path):
    config = TrainConfig(data=str(EXAMPLES / "wine.csv"), target="cultivar", dp_epsilon=3.0)
    with pytest.raises(NoPrivateAlgorithm, match="no network here learns plain tables"):
        run_training(config, workspace=Workspace(tmp_path))


def test_a_gru_with_dp_is_refused_naming_what_can_train_text(tmp_path: Path):
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\n" + "".join(f"message number {i} says {'yes' if i % 2 else 'no'},"
                                                f"{'a' if i % 2 else 'b'}\n" for i in range(60)))
    config = TrainConfig(data=str(texts), target="label", algorithm="gru", dp_epsilon=3.0)
    with pytest.raises(NoPrivateAlgorithm, match=r"'gru' is a network whose recurrent.*"
                                                 r"text: minilm, minilm_tuned"):
        run_training(config, workspace=Workspace(tmp_path / "home"))
