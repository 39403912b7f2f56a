"""The continuous-learning loop in a real browser, as the README's "After deployment" section
tells a person to run it on the platform server: deploy a model (web UI), send it traffic
(REST), send the true outcomes back (the web form, then REST), watch drift and performance
on the deployment's monitoring page, set a retraining policy on the model's page and see it
fire, put the challenger in shadow, compare it, promote it and roll it back (buttons), and
read who did each change, when and why, in the deployment's history."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests._paths import EXAMPLES
from tests.e2e._browser import signed_in
from tests.e2e._live_server import live_server
from tests.server._jobs import wait_for

import trainforge as tf
from trainforge.config import ServerConfig
from trainforge.server.supervisor import Supervisor
from trainforge.store import access
from trainforge.workspace import Workspace

pytestmark = [pytest.mark.slow,  # a browser, a live server and a retrain job
              pytest.mark.skipif(shutil.which("chromium") is None,
                                 reason="needs Debian's chromium (.ci/run installs it)")]

N_ROWS = 300  # requests of one row each: the first half as in training, the second shifted
LABELLED_TO_RETRAIN = 100
WAIT_MS = 240_000  # the retrain: a train job a worker process picks up and runs (2 cores)


def credit_rows() -> list[dict[str, Any]]:
    with open(EXAMPLES / "credit_g.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[:N_ROWS]
    return [{k: float(v) if k in ("duration", "credit_amount", "age") else v
             for k, v in row.items()} for row in rows]


def shifted(row: dict[str, Any]) -> dict[str, Any]:
    """The world moved: loans three times as long and five times as large."""
    return {**row, "duration": row["duration"] * 3, "credit_amount": row["credit_amount"] * 5}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A server with one job worker over a workspace holding credit:1, checking the
    retraining policies every second (60 by default)."""
    workspace = Workspace(tmp_path / "home")
    username, password = access.ensure_first_admin(workspace)
    tf.train(EXAMPLES / "credit_g.csv", target="class", name="credit", trials=1,
             algorithm="linear", workspace=workspace)
    editor_token = access.create_token(workspace, name="traffic", role="editor")[0]
    workers = Supervisor(workspace, workers=1, heartbeat_s=1.0, stale_after_s=60.0)
    workers.start()
    try:
        with live_server(workspace, ServerConfig(policy_check_s=1.0)) as url:
            yield {"url": url, "username": username, "password": password,
                   "auth": {"Authorization": f"Bearer {editor_token}"}}
    finally:
        workers.stop()


def predict(platform: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """One request per row, as a client application sends them; their request ids."""
    ids = []
    with httpx.Client(base_url=platform["url"], headers=platform["auth"], timeout=30) as http:
        for row in rows:
            answer = http.post("/v1/models/credit/predict", json={"records": [
                {k: v for k, v in row.items() if k != "class"}]})
            assert answer.status_code == 200, answer.text
            ids.append(answer.json()["request_id"])
    return ids


def test_a_person_runs_the_whole_loop_from_the_readme_in_the_browser(platform, tmp_path):
    from playwright.sync_api import expect

    rows = credit_rows()
    with signed_in(platform) as (page, errors):
        url = platform["url"]

        # deploy credit:1, logging every prediction
        page.goto(url + "/deployments")
        page.select_option("select[name=model]", "credit")
        page.click("button:has-text('Deploy')")
        page.wait_for_selector("#deployment-credit")

        # traffic, then its true outcomes through the deployment's label form
        half = N_ROWS // 2
        request_ids = predict(platform, rows[:half] + [shifted(r) for r in rows[half:]])
        # the log is written off the request path, within a second: a label for a prediction
        # not written yet would be an unknown request
        _wait_until(platform, "monitoring", "n_rows", N_ROWS)
        labels = tmp_path / "labels.csv"
        with labels.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["request_id", "label"])
            writer.writerows(zip(request_ids, (row["class"] for row in rows), strict=True))
        section = page.locator("#deployment-credit")
        section.locator("input[name=file]").set_input_files(str(labels))
        section.locator("button:has-text('Send labels')").click()
        expect(page.locator("#feedback-credit")).to_contain_text(f"{N_ROWS} recorded")

        # drift and performance on the deployment's page: windows of 150 rows, the second
        # one shifted
        page.goto(url + "/deployments/credit/monitoring?window=150")
        drifted = page.locator("strong.error", has_text="drifted:").inner_text()
        assert "duration" in drifted and "credit_amount" in drifted
        assert page.locator(".performance strong").inner_text() not in ("", "—")
        assert page.locator(".plots img").count() >= 3
        assert page.locator("img[alt$='over time']").count() == 1  # the metric per window

        # a retraining policy on the model's page: enough labels arrived, so it fires
        page.goto(url + "/models/credit")
        page.wait_for_selector("#retrain input[name=new_labels]")  # the panel loads by itself
        panel = page.locator("#retrain")
        panel.locator("input[name=new_labels]").fill(str(LABELLED_TO_RETRAIN))
        panel.locator("input[name=trials]").fill("1")
        panel.locator("input[name=time_budget]").fill("60")
        panel.locator("button:has-text('Save policy')").click()
        expect(page.locator("#retrain")).to_contain_text(f"new_labels {LABELLED_TO_RETRAIN}",
                                                         timeout=30_000)
        retrained = page.locator("#retrain tbody tr", has_text="labels")
        _reload_until(page, retrained.filter(has_text="succeeded"))
        assert f"{N_ROWS} labels arrived since version 1" in retrained.first.inner_text()

        # the challenger in shadow: a copy of new traffic, then its labels through REST
        page.goto(url + "/deployments")
        section = page.locator("#deployment-credit")
        section.locator("form:has-text('Set shadow') select[name=model]").select_option(
            "credit@challenger")
        section.locator("form:has-text('Set shadow') input[name=reason]").fill("retrained")
        section.locator("button:has-text('Set shadow')").click()
        expect(section.locator(".shadow")).to_contain_text("Shadow: credit:2")
        again = rows[:half]
        shadowed_ids = predict(platform, again)
        _wait_until(platform, "monitoring", "n_rows", N_ROWS + half)
        _send_labels(platform, shadowed_ids, again)
        # the shadow answers after the champion's answer is sent, and its rows are logged
        # after that: on a busy machine later than the champion's
        _wait_until(platform, "comparison", "n_requests", half)
        page.goto(url + "/deployments/credit/comparison")
        expect(page.locator(".verdict")).not_to_be_empty()
        expect(page.locator("table.grid")).to_contain_text("Same prediction")
        expect(page.locator("table.grid")).to_contain_text(": challenger")  # its metric

        # promote it, then roll it back: each with a reason, at once
        page.goto(url + "/deployments")
        section = page.locator("#deployment-credit")
        section.locator("form:has-text('Promote the shadow') input[name=reason]").fill(
            "better on the shifted loans")
        section.locator("button:has-text('Promote the shadow')").click()
        expect(page.locator("#deployment-credit h2")).to_contain_text("credit:2")
        assert _served(platform, rows[0]) == "credit:2"
        section = page.locator("#deployment-credit")
        section.locator("form:has-text('Roll back') input[name=reason]").fill("complaints")
        section.locator("button:has-text('Roll back')").click()
        expect(page.locator("#deployment-credit h2")).to_contain_text("credit:1")
        assert _served(platform, rows[0]) == "credit:1"

        # the history: who, when and why
        page.locator("#deployment-credit summary:has-text('History')").click()
        history = page.locator("#deployment-credit details.history tbody tr")
        changes = [history.nth(i).locator("td").all_inner_texts()
                   for i in range(history.count())]
    by_action = {row[1]: row for row in changes}
    assert by_action["promote"][2:] == ["credit:1 → credit:2", platform["username"],
                                        "better on the shifted loans"]
    assert by_action["rollback"][2:] == ["credit:2 → credit:1", platform["username"],
                                         "complaints"]
    assert all(row[0] for row in changes)  # when
    assert errors == []


def _reload_until(page: Any, locator: Any, *, timeout_ms: int = WAIT_MS) -> None:
    """Reload the page until ``locator`` shows: the server's checker and worker run alone."""
    for _ in range(timeout_ms // 2_000):
        page.wait_for_selector("#retrain")  # the panel loads after the page
        if locator.count():
            return
        page.wait_for_timeout(2_000)
        page.reload()
    raise AssertionError(f"not shown within {timeout_ms / 1000:.0f} s: "
                         f"{page.locator('#retrain').inner_text()}")


def _wait_until(platform: dict[str, Any], route: str, field: str, n_rows: int) -> None:
    """Poll credit's deployment ``route`` (monitoring, comparison) until its ``field`` counts
    ``n_rows`` or more."""

    def counted() -> bool:
        answer = httpx.get(f"{platform['url']}/api/v1/deployments/credit/{route}",
                           headers=platform["auth"], timeout=30)
        return bool(answer.json()[field] >= n_rows)

    wait_for(counted, timeout_s=20, what=f"{n_rows} rows in {field} of credit's {route}")


def _send_labels(platform: dict[str, Any], request_ids: list[str],
                 rows: list[dict[str, Any]]) -> None:
    records = [{"request_id": rid, "label": row["class"]}
               for rid, row in zip(request_ids, rows, strict=True)]
    answer = httpx.post(platform["url"] + "/v1/models/credit/feedback", headers=platform["auth"],
                        json={"records": records}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["recorded"] == len(records)


def _served(platform: dict[str, Any], row: dict[str, Any]) -> str:
    """The version that answers a request now."""
    answer = httpx.post(platform["url"] + "/v1/models/credit/predict", headers=platform["auth"],
                        json={"records": [{k: v for k, v in row.items() if k != "class"}]},
                        timeout=30)
    return str(answer.json()["model"])
