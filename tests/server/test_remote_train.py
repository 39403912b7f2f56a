"""`trainforge train DATA --server URL`: uploads, trains on the server's worker, prints the
result like local training, and exits non-zero when the job fails."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, Request, UploadFile
from tests._paths import EXAMPLES
from tests.server._jobs import HEARTBEAT_S, STALE_AFTER_S, running_app

from trainforge.cli.app import run
from trainforge.config import ServerConfig
from trainforge.server.app import create_server_app
from trainforge.server.auth import require
from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.store.access import Principal
from trainforge.store.jobs import list_jobs
from trainforge.store.uploads import new_upload_dir, record_upload, safe_filename
from trainforge.workspace import Workspace


def with_upload_route(workspace: Workspace) -> Any:
    """The platform app plus a minimal POST /api/v1/datasets (the real one lives elsewhere)."""
    app = create_server_app(workspace, ServerConfig())

    @app.post("/api/v1/datasets", status_code=201)
    async def upload(request: Request, file: UploadFile,
                     who: Annotated[Principal, Depends(require("editor", "upload"))]) -> dict:
        upload_id, directory = new_upload_dir(workspace)
        path = directory / safe_filename(file.filename or "upload")
        path.write_bytes(await file.read())
        record_upload(workspace, upload_id=upload_id, path=path,
                      size_bytes=path.stat().st_size,
                      sha256=hashlib.sha256(path.read_bytes()).hexdigest(), uploaded_by=who.name)
        return {"id": upload_id}

    return app


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, str, Workspace]]:
    workspace = Workspace(tmp_path / "server-home")
    token, _ = access.create_token(workspace, name="cli", role="editor")
    supervisor = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        with running_app(with_upload_route(workspace)) as url:
            yield url, token, workspace
    finally:
        supervisor.stop(timeout_s=15)


def test_train_with_server_registers_the_model_on_the_server_and_prints_it(server, capsys):
    url, token, workspace = server
    code = run(["train", str(EXAMPLES / "credit_g.csv"), "--target", "class", "--name",
                "credit", "--algorithm", "linear", "--trials", "1", "--server", url,
                "--token", token])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "task: binary classification of 'class'" in printed
    assert "Registered credit:1 on the server" in printed and "roc_auc" in printed
    assert workspace.registry.resolve("credit") == ("credit", 1)
    assert [job["status"] for job in list_jobs(workspace)] == ["succeeded"]


def test_a_failed_job_makes_train_with_server_exit_non_zero_with_the_reason(server, capsys,
                                                                           monkeypatch):
    url, token, _ = server
    monkeypatch.setenv("TRAINFORGE_SERVER", url)
    monkeypatch.setenv("TRAINFORGE_TOKEN", token)
    code = run(["train", str(EXAMPLES / "credit_g.csv"), "--target", "no_such_column",
                "--trials", "1"])
    captured = capsys.readouterr()
    assert code == 8
    assert "failed" in captured.err and "no_such_column" in captured.err
