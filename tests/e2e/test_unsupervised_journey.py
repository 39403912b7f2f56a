"""Learning without labels through the real `trainforge` command: cluster and anomalies, each
run in a new process and ending as a registered model that `predict` (run in this process:
test_cli_journey runs it as a new one) and the served app answer with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import adjusted_rand_score
from tests._paths import EXAMPLES
from tests.e2e._cli import trainforge

pytestmark = pytest.mark.slow  # whole journeys: cluster and anomalies run in a new process

WINE = EXAMPLES / "wine.csv"
CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("unsupervised")


@pytest.fixture(scope="module")
def clustered(home: Path) -> subprocess.CompletedProcess[str]:
    return trainforge("cluster", str(WINE), "--exclude", "cultivar", "--name", "wine",
                      "--time-budget", "20", home=home)


@pytest.fixture(scope="module")
def scored(home: Path) -> subprocess.CompletedProcess[str]:
    return trainforge("anomalies", str(CREDIT), "--exclude", "class", "--name", "credit",
                      "--top", "5", home=home)


def _served(home: Path, ref: str) -> TestClient:
    from trainforge.serving.app import create_app
    from trainforge.workspace import Workspace

    loaded = Workspace(home=home).registry.load(ref)
    return TestClient(create_app({loaded.name: loaded}))


def test_cluster_shows_the_choice_each_segment_in_words_and_registers(clustered):
    assert clustered.returncode == 0, clustered.stderr
    out = clustered.stdout
    assert "3 segments by" in out and "chosen" in out
    assert "Segment 0:" in out and "much higher" in out
    assert "Registered wine:1" in out and "report.html" in out


def test_the_clustering_report_draws_the_segments_and_lists_every_candidate(home, clustered):
    html = (home / "artifacts" / "models" / "wine" / "1" / "report.html").read_text()
    assert "<img" in html and "Segment 2" in html and "Candidates compared" in html
    assert "http://" not in html.split("<body", 1)[1]


def test_predicted_segments_recover_the_wine_cultivars(home, clustered, tmp_path, cli):
    done = cli("predict", "wine", str(WINE), "-o", str(tmp_path / "out.csv"), home=home)
    assert done.returncode == 0, done.stderr
    segments = pd.read_csv(tmp_path / "out.csv")["prediction"]
    assert adjusted_rand_score(pd.read_csv(WINE)["cultivar"], segments) > 0.8


def test_the_served_clustering_model_answers_a_segment_per_record(home, clustered):
    records = pd.read_csv(WINE).drop(columns=["cultivar"]).head(4).to_dict("records")
    answer = _served(home, "wine").post("/v1/models/wine/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 4
    assert set(answer.json()["predictions"]) <= {0, 1, 2}


def test_anomalies_names_the_top_rows_and_what_drives_them(scored):
    assert scored.returncode == 0, scored.stderr
    assert "credit_amount 18,424" in scored.stdout  # row 915: 9.9 robust SDs above the median
    assert "Registered credit:1" in scored.stdout


def test_predict_gives_every_row_a_score_and_a_flag(home, scored, tmp_path, cli):
    done = cli("predict", "credit", str(CREDIT), "-o", str(tmp_path / "out.csv"), home=home)
    out = pd.read_csv(tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    assert list(out.columns) == ["score", "prediction"] and len(out) == 1000
    assert out["score"].idxmax() == 915 and out.loc[915, "prediction"] == 1


def test_the_served_detector_answers_scores_and_flags(home, scored):
    rows = pd.read_csv(CREDIT).drop(columns=["class"])
    records = rows.iloc[[0, 915]].to_dict("records")
    answer = _served(home, "credit").post("/v1/models/credit/predict",
                                          json={"records": records}).json()
    assert answer["predictions"] == [0, 1]
    assert answer["scores"][1] > answer["scores"][0]


def test_the_served_schema_documents_the_scores(home, scored):
    schema = _served(home, "credit").get("/openapi.json").json()["components"]["schemas"]
    response = next(v for k, v in schema.items() if k.endswith("Response"))
    assert "scores" in response["properties"]
