"""`trainforge train|predict|evaluate … --server URL`: upload, run on the server's worker, print
or write what the local command does, and exit non-zero when the job fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._examples import one_feature_example
from tests._paths import EXAMPLES
from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, running_app

from trainforge.cli.app import run
from trainforge.config import ServerConfig, TrainConfig
from trainforge.jobs.train import run_training
from trainforge.server.app import create_server_app
from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.store.jobs import list_jobs
from trainforge.workspace import Workspace


@pytest.fixture(scope="module")
def credit(tmp_path_factory: pytest.TempPathFactory) -> str:
    """credit_g cut to its target and one feature: the jobs' trainings run every step (search,
    evaluation, importance, report, registration) without explanations to compute."""
    return str(one_feature_example("credit_g.csv", tmp_path_factory.mktemp("credit")))


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, str, Workspace]]:
    workspace = Workspace(tmp_path / "server-home")
    token, _ = access.create_token(workspace, name="cli", role="editor")
    supervisor = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        with running_app(create_server_app(workspace, ServerConfig())) as url:
            yield url, token, workspace
    finally:
        supervisor.stop(timeout_s=15)


@pytest.mark.slow
def test_train_with_server_registers_the_model_on_the_server_and_prints_it(server, credit,
                                                                           capsys):
    url, token, workspace = server
    code = run(["train", credit, "--target", "class", "--name", "credit", "--algorithm",
                "linear", "--trials", "1", "--server", url, "--token", token])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "task: binary classification of 'class'" in printed
    assert "Registered credit:1 on the server" in printed and "roc_auc" in printed
    assert workspace.registry.resolve("credit") == ("credit", 1)
    assert [job["status"] for job in list_jobs(workspace)] == ["succeeded"]


@pytest.mark.slow
def test_a_failed_job_makes_train_with_server_exit_non_zero_with_the_reason(server, capsys,
                                                                           monkeypatch):
    url, token, _ = server
    monkeypatch.setenv("TRAINFORGE_SERVER", url)
    monkeypatch.setenv("TRAINFORGE_TOKEN", token)
    code = run(["train", str(EXAMPLES / "credit_g.csv"), "--target", "class", "--algorithm",
                "cnn", "--trials", "1"])  # cnn reads images: only training finds that out
    captured = capsys.readouterr()
    assert code == 8
    assert "failed" in captured.err and "'cnn' cannot learn" in captured.err


def test_a_train_job_the_server_refuses_is_never_queued_and_says_why(server, capsys,
                                                                     monkeypatch):
    url, token, workspace = server
    monkeypatch.setenv("TRAINFORGE_SERVER", url)
    monkeypatch.setenv("TRAINFORGE_TOKEN", token)
    code = run(["train", str(EXAMPLES / "credit_g.csv"), "--target", "no_such_column",
                "--trials", "1"])
    assert code != 0 and "target: column 'no_such_column'" in capsys.readouterr().err
    assert list_jobs(workspace) == []


@pytest.mark.slow
def test_predict_and_evaluate_with_server_use_the_servers_model(server, credit, capsys,
                                                                 tmp_path):
    url, token, _ = server
    assert run(["train", credit, "--target", "class", "--name", "credit", "--algorithm",
                "linear", "--trials", "1", "--server", url, "--token", token]) == 0
    rows = tmp_path / "new.csv"
    rows.write_text("".join(Path(credit).read_text().splitlines(keepends=True)[:31]))
    output = tmp_path / "out.csv"
    assert run(["predict", "credit", str(rows), "-o", str(output), "--server", url,
                "--token", token]) == 0
    assert output.read_text().splitlines()[0] == "prediction,bad,good"
    assert len(output.read_text().splitlines()) == 31
    capsys.readouterr()
    assert run(["evaluate", "credit", str(rows), "--server", url, "--token", token]) == 0
    assert "roc_auc" in capsys.readouterr().out


@pytest.mark.slow  # explains a model's predictions over HTTP: ~7 s
def test_predict_with_server_and_explain_writes_the_servers_contributions(server, credit,
                                                                          tmp_path):
    url, token, workspace = server
    run_training(TrainConfig(data=credit, target="class", name="credit",
                             algorithm="lightgbm", trials=1), workspace=workspace)
    rows = tmp_path / "new.csv"
    rows.write_text("".join(Path(credit).read_text().splitlines(keepends=True)[:11]))
    output = tmp_path / "out.csv"
    assert run(["predict", "credit", str(rows), "-o", str(output), "--server", url,
                "--token", token, "--explain", "--top-k", "1"]) == 0
    assert output.read_text().splitlines()[0] == (
        "prediction,bad,good,explain.base_value,explain.1.feature,explain.1.value,"
        "explain.1.contribution")
