"""A trained package carries its reference; `trainforge monitor` and `tf.monitor` compare what
a deployment logged with it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from tests._paths import EXAMPLES

import trainforge as tf
from trainforge.errors import DeploymentNotFound
from trainforge.monitoring.prediction_log import PredictionLog, new_request_id
from trainforge.workspace import Workspace

CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture
def workspace(trained_home: Path, tmp_path: Path) -> Workspace:
    """A copy of the session's ``trained_home`` (tests/conftest.py): ``credit`` 1 and 2."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    return Workspace(home)


def _log(workspace: Workspace, rows: pd.DataFrame, *, deployment: str = "credit") -> None:
    log = PredictionLog(workspace.prediction_log)
    for start in range(0, len(rows), 50):
        part = rows.iloc[start:start + 50]
        log.record(deployment=deployment, model="credit", version=1,
                   request_id=new_request_id(),
                   inputs={c: part[c].tolist() for c in part.columns if c != "class"},
                   outputs={"prediction": part["class"].tolist()}, n_rows=len(part),
                   latency_s=0.001)
    log.flush()


def _shifted(rows: pd.DataFrame) -> pd.DataFrame:
    shifted = rows.copy()
    shifted["duration"] = shifted["duration"] * 3  # months of credit, three times longer
    return shifted


def test_a_trained_package_carries_its_reference_and_the_registry_reads_it_back(
        workspace: Workspace):
    reference = json.loads(workspace.registry.package_file("credit:1", "reference.json"))
    assert reference["features"]["duration"]["kind"] == "numeric"
    assert reference["features"]["purpose"]["kind"] == "categorical"
    assert set(reference["prediction"]["shares"]) <= {"good", "bad"}


def test_the_reference_is_small(workspace: Workspace):
    assert len(workspace.registry.package_file("credit:1", "reference.json")) < 200_000


def test_monitor_flags_the_feature_that_was_shifted(workspace: Workspace):
    _log(workspace, _shifted(pd.read_csv(CREDIT)))
    result = tf.monitor("credit", window="500", workspace=workspace)
    assert result.latest is not None
    assert "duration" in result.latest.drifted_features


def test_a_deployment_nothing_was_logged_for_is_not_found(workspace: Workspace):
    with pytest.raises(DeploymentNotFound, match="'churn'"):
        tf.monitor("churn", workspace=workspace)


def test_a_package_without_a_reference_says_to_retrain(workspace: Workspace):
    _log(workspace, pd.read_csv(CREDIT).head(100))
    package = Path(workspace.registry.show("credit:1")["path"])
    manifest = json.loads((package / "manifest.json").read_text())
    del manifest["files"]["reference.json"]  # as a package from before references
    (package / "reference.json").unlink()
    content = json.dumps(manifest).encode()
    (package / "manifest.json").write_bytes(content)
    with workspace.engine.begin() as connection:  # the registry keeps the manifest's hash
        connection.exec_driver_sql("UPDATE models SET manifest_sha256 = ?",
                                   (hashlib.sha256(content).hexdigest(),))
    result = tf.monitor("credit", workspace=workspace)
    assert result.windows == () and "no reference: retrain to get one" in (result.note or "")


def test_the_monitor_command_prints_a_summary_and_writes_the_report(workspace: Workspace,
                                                                    cli, tmp_path: Path):
    _log(workspace, _shifted(pd.read_csv(CREDIT)))
    done = cli("monitor", "credit", "--window", "500", "-o", str(tmp_path / "report.html"),
               home=workspace.home)
    assert done.returncode == 0, done.stderr
    assert "drifted: duration" in done.stdout and "psi" in done.stdout
    assert "<img" in (tmp_path / "report.html").read_text()


def test_since_is_a_span_back_from_now_or_an_iso_date_in_utc():
    from datetime import UTC, datetime

    from trainforge.monitoring.monitor import parse_since

    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert [parse_since("6h", now=now), parse_since("2026-03-01", now=now)] == [
        datetime(2026, 3, 10, 6, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)]


def test_feedback_for_what_trainforge_serve_logged_shows_the_metric_over_time(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]):
    # `trainforge serve` keeps no deployment record: its log alone names what answered
    rows = pd.read_csv(CREDIT)
    _log(workspace, rows)
    logged = tf.monitor("credit", window="500", workspace=workspace)
    assert logged.performance == ()  # no label yet
    from trainforge.monitoring.prediction_log import read_predictions

    answered = read_predictions(workspace.prediction_log, "credit")
    truth = rows["class"].tolist()
    labels = pd.DataFrame({"request_id": answered["request_id"], "row": answered["row"],
                           "label": [truth[i] for i in range(len(answered))]})
    outcome = tf.feedback("credit", labels.iloc[:600], workspace=workspace)
    assert outcome.counts.get("recorded") == 600
    result = tf.monitor("credit", window="500", workspace=workspace)
    assert [p.n_rows for p in result.performance] == [500, 100]
    # the logged "predictions" are the true classes here: the metric must say so
    assert result.performance[0].value == pytest.approx(1.0)
    from trainforge.cli.monitor_cmd import render_monitoring

    render_monitoring(result)
    assert "on the labelled feedback" in capsys.readouterr().out


def test_a_name_no_deployment_could_have_is_not_found_rather_than_an_error(
        workspace: Workspace):
    with pytest.raises(DeploymentNotFound):
        tf.monitor("read jobs", workspace=workspace)
