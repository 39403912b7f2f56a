"""`trainforge runs list` shows what each run used, and what it cost when a rate is set
($TRAINFORGE_COST_PER_CPU_HOUR): cost = CPU-seconds / 3600 × rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainforge.store import finish_run, start_run
from trainforge.workspace import Workspace


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A workspace with one finished run that used 720 CPU-seconds and 300 MB."""
    workspace = Workspace(tmp_path / "home")
    run_id = start_run(workspace, kind="train", config={"data": "credit.csv"},
                       dataset_id=None)
    finish_run(workspace, run_id, status="succeeded", metrics={}, peak_memory_mb=300.0,
               cpu_s=720.0)
    workspace.close()
    return tmp_path / "home"


def row_of_the_run(stdout: str) -> list[str]:
    return next(line for line in stdout.splitlines() if "train" in line).split("│")


def test_runs_list_shows_each_runs_cpu_seconds_and_peak_memory(cli, home, monkeypatch):
    monkeypatch.delenv("TRAINFORGE_COST_PER_CPU_HOUR", raising=False)
    done = cli("runs", "list", home=home)
    assert done.returncode == 0, done.stderr
    assert "CPU-s" in done.stdout and "cost" not in done.stdout
    cells = [cell.strip() for cell in row_of_the_run(done.stdout)]
    assert "720.0" in cells and "300" in cells


def test_runs_list_shows_the_cost_at_the_rate_set_in_the_environment(cli, home, monkeypatch):
    monkeypatch.setenv("TRAINFORGE_COST_PER_CPU_HOUR", "0.5")
    monkeypatch.setenv("TRAINFORGE_COST_CURRENCY", "EUR")
    done = cli("runs", "list", home=home)
    assert done.returncode == 0, done.stderr
    assert "cost (EUR)" in done.stdout
    assert f"{720.0 / 3600 * 0.5:.4g}" in [c.strip() for c in row_of_the_run(done.stdout)]


def test_a_rate_that_is_not_a_number_is_one_line_naming_the_variable(cli, home, monkeypatch):
    monkeypatch.setenv("TRAINFORGE_COST_PER_CPU_HOUR", "cheap")
    done = cli("runs", "list", home=home)
    assert done.returncode == 2
    assert "$TRAINFORGE_COST_PER_CPU_HOUR='cheap'" in done.stderr
    assert "Traceback" not in done.stderr
