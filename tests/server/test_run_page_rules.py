"""The run page lists the training rules that fired, from the run's ``rules.RULE.WHERE``
series, with where and when each fired and what to try; the charts never plot them."""

from __future__ import annotations

import re

import pytest

from trainforge.runtime.rules import ADVICE
from trainforge.store.runs import log_metric, start_run


@pytest.fixture
def warned_run(workspace) -> str:
    """A run whose search warned of a leak (step 0) and whose GRU diverged at step 20."""
    run_id = start_run(workspace, kind="train", config={"algorithm": "gru"}, dataset_id=None)
    log_metric(workspace, run_id, "rules.loss_diverged.gru", 412.5, step=20)
    log_metric(workspace, run_id, "rules.leaking_column.search", 1.0, step=0)
    log_metric(workspace, run_id, "trial0.gru.train_loss", 0.7, step=1)
    return run_id


def _findings_rows(page: str) -> list[list[str]]:
    table = page.split("<h2>Training rules that fired</h2>", 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_the_run_page_lists_each_finding_with_where_step_value_and_advice(viewer, warned_run):
    rows = _findings_rows(viewer.get(f"/runs/{warned_run}").text)
    assert rows[1][:3] == ["loss_diverged", "gru", "20"]
    assert "412" in rows[1][3] and rows[1][4] == ADVICE["loss_diverged"]


def test_the_run_page_lists_findings_in_the_order_they_fired(viewer, warned_run):
    rows = _findings_rows(viewer.get(f"/runs/{warned_run}").text)
    assert [row[0] for row in rows] == ["leaking_column", "loss_diverged"]


def test_a_run_without_findings_shows_no_findings_table(viewer, workspace):
    run_id = start_run(workspace, kind="train", config={}, dataset_id=None)
    log_metric(workspace, run_id, "trial0.gru.train_loss", 0.7, step=1)
    assert "Training rules that fired" not in viewer.get(f"/runs/{run_id}").text


def test_findings_are_not_offered_to_the_charts_as_curves(viewer, warned_run):
    series = viewer.get(f"/runs/{warned_run}/series").json()["series"]
    assert list(series) == ["trial0.gru.train_loss"]
