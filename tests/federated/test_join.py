"""Federations the server coordinates, end to end as the README walks through them: a real
server (uvicorn and its worker processes, on 127.0.0.1), `trainforge federated create` with a
sample table, three `trainforge federated join` processes with three different tables, and
the model registered, evaluated on each holder's held-out rows, deployed and predicting.

Needs Flower's virtualenv (`make test-federated` runs these).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from tests._paths import EXAMPLES, ROOT
from tests.federated._certificates import self_signed
from tests.federated._holders import SLOW_FEDERATION_S
from tests.server._jobs import free_port, wait_for

from trainforge.federated.environment import flower_python
from trainforge.federated.processes import holder_log, start_holder
from trainforge.jobs.federate import FEDERATION_FILE
from trainforge.jobs.federation import plan_of
from trainforge.jobs.federation_keys import make_holder_key
from trainforge.store import access
from trainforge.store import federations as store
from trainforge.store.runs import get_run
from trainforge.workspace import Workspace

pytestmark = [pytest.mark.federated, pytest.mark.slow]
CREDIT = EXAMPLES / "credit_g.csv"
TIMEOUT_S = 300.0  # three clients and a coordinator starting from Flower's venv, on 2 cores
# the checkout's own (make federated) unless TRAINFORGE_FLOWER_VENV names one
FLOWER_VENV = Path(os.environ.get("TRAINFORGE_FLOWER_VENV", str(ROOT / ".venv-flower")))


def trainforge(*args: str, home: Path, output: Any = subprocess.PIPE
               ) -> subprocess.Popen[str]:
    env = {**os.environ, "TRAINFORGE_HOME": str(home), "COLUMNS": "160"}
    return subprocess.Popen([sys.executable, "-m", "trainforge", *args], env=env, text=True,
                            stdout=output, stderr=subprocess.STDOUT)


def finished(process: subprocess.Popen[str], *, timeout_s: float = TIMEOUT_S
             ) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout_s)
    return process.returncode, output


def create(url: str, editor: str, name: str, home: Path, *options: str) -> list[str]:
    """`trainforge federated create` against the server; the client tokens it printed."""
    code, output = finished(trainforge(
        "federated", "create", name, "--target", "class", "--like", str(CREDIT),
        "--server", url, "--token", editor, *options, home=home))
    assert code == 0, output
    return re.findall(r"^\s+(tf_\S+)$", output, flags=re.MULTILINE)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """`trainforge server` with two workers (a federation's coordinator holds one while it
    runs), and an editor's token."""
    home = tmp_path_factory.mktemp("server") / "home"
    workspace = Workspace(home)
    editor, _ = access.create_token(workspace, name="ana", role="editor")
    workspace.close()
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRAINFORGE_FLOWER_VENV", str(FLOWER_VENV))
        with (home.parent / "server.log").open("w") as log:  # a pipe unread would fill
            process = trainforge("server", "--port", url.rsplit(":", 1)[1], "--workers", "2",
                                 home=home, output=log)
    try:
        wait_for(lambda: answers(url), timeout_s=60, what=f"trainforge server at {url}")
        yield url, home, editor
    finally:
        process.terminate()  # the server stops its workers, and they their coordinators
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three holders' tables: different rows, and different class shares (the first holds
    most of the bad credit)."""
    frame = pd.read_csv(CREDIT)
    bad, good = frame[frame["class"] == "bad"], frame[frame["class"] == "good"]
    parts = [pd.concat([bad.iloc[:180], good.iloc[:150]]),
             pd.concat([bad.iloc[180:240], good.iloc[150:400]]),
             pd.concat([bad.iloc[240:], good.iloc[400:]])]
    folder = tmp_path_factory.mktemp("holders")
    paths = []
    for index, part in enumerate(parts):
        paths.append(folder / f"site-{index}.csv")
        part.sample(frac=1.0, random_state=index).to_csv(paths[-1], index=False)
    return paths


@pytest.fixture(scope="module")
def federation(server, tables, tmp_path_factory: pytest.TempPathFactory):
    """`create`, then three joins at once, each from its own shell (home); their outputs."""
    url, home, editor = server
    tokens = create(url, editor, "credit-fed", home, "--min-clients", "3", "--rounds", "3")
    joins = [trainforge("federated", "join", url, "credit-fed", "--data", str(table),
                        "--token", token, home=tmp_path_factory.mktemp(f"holder-{index}"))
             for index, (table, token) in enumerate(zip(tables, tokens, strict=True))]
    return [finished(process, timeout_s=SLOW_FEDERATION_S) for process in joins]


@dataclass(frozen=True)
class Intruder:
    """A SuperNode started by hand against a federation's coordinator: it trusts the CA, but
    its key was never registered (no join, no client token)."""

    status: int  # how its process exited
    log: str


@pytest.fixture(scope="module")
def tls_federation(server, tables, tmp_path_factory: pytest.TempPathFactory):
    """A federation learning an MLP, its coordinator speaking TLS with a certificate of a CA
    the test makes, on the port --listen names: a holder without the CA joins first, then
    three trusting it, and an intruder's SuperNode dials the coordinator once it listens.
    The address, the refused holder's output, the three's, and the intruder."""
    url, home, editor = server
    files = self_signed(tmp_path_factory.mktemp("tls"))
    listen = f"127.0.0.1:{free_port()}"
    tokens = create(url, editor, "credit-tls", home, "--min-clients", "3", "--rounds", "1",
                    "--model", "mlp", "--listen", listen, "--ssl-certfile", str(files.certificate),
                    "--ssl-keyfile", str(files.private_key),
                    "--ssl-ca-certfile", str(files.ca_certificate))
    untrusting = finished(trainforge("federated", "join", url, "credit-tls", "--data",
                                     str(tables[0]), "--token", tokens[0],
                                     home=tmp_path_factory.mktemp("untrusting")))
    joins = [trainforge("federated", "join", url, "credit-tls", "--data", str(table),
                        "--token", token, "--root-certificates", str(files.ca_certificate),
                        home=tmp_path_factory.mktemp(f"tls-holder-{index}"))
             for index, (table, token) in enumerate(zip(tables, tokens, strict=True))]
    intruder = intrude(home, "credit-tls", tables[0], root_certificate=files.ca_certificate,
                       scratch=tmp_path_factory.mktemp("intruder"))
    # a process per Flower message: an MLP's round on 2 loaded cores can take many minutes
    return listen, untrusting, [finished(process, timeout_s=SLOW_FEDERATION_S)
                                for process in joins], intruder


def intrude(home: Path, name: str, table: Path, *, root_certificate: Path, scratch: Path
            ) -> Intruder:
    """Start a SuperNode named "intruder" with a key pair of its own against federation
    ``name``'s coordinator once it listens; wait for it to end."""
    workspace = Workspace(home)
    address = wait_for(lambda: store.get_federation(workspace, name)["address"],
                       timeout_s=SLOW_FEDERATION_S, what=f"{name}'s coordinator to listen")
    private_key, _ = make_holder_key(scratch)
    process = start_holder(address, plan_of(store.get_federation(workspace, name)), table,
                           "intruder", python=flower_python(FLOWER_VENV), scratch=scratch,
                           root_certificate=root_certificate, private_key=private_key)
    try:
        status = process.wait(timeout=SLOW_FEDERATION_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Intruder(status=status, log=holder_log(scratch, "intruder").read_text())


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_three_holders_trusting_its_ca_finish_a_federation_over_tls(tls_federation):
    listen, _, joins, _ = tls_federation
    assert [code for code, _ in joins] == [0, 0, 0], joins
    assert all(f"coordinator at {listen} over TLS, its SuperNode admitted by its key" in output
               and "registered credit-tls:1" in output for _, output in joins)


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_supernode_that_never_joined_is_refused_by_the_tls_coordinator(tls_federation):
    *_, intruder = tls_federation
    assert intruder.status != 0
    assert "Failed to activate SuperNode" in intruder.log


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_the_tls_federations_run_shows_only_the_holders_who_joined(server, tls_federation):
    _, home, _ = server
    record = store.get_federation(Workspace(home), "credit-tls")
    series = get_run(Workspace(home), record["run_id"])["series"]
    assert [p["value"] for p in series["participating_clients"]] == [3.0]
    assert not [key for key in series if "intruder" in key]


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_holder_without_the_root_certificate_is_refused_saying_what_to_give(tls_federation):
    _, (code, output), _, _ = tls_federation
    assert code == 2
    assert "speaks TLS: join with --root-certificates CA.pem" in output


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_federation_asked_for_an_mlp_registers_one(server, tls_federation):
    _, home, _ = server
    lineage = json.loads((Workspace(home).registry.load("credit-tls:1").path / "manifest.json"
                          ).read_text())["lineage"]
    assert (lineage["model"], lineage["rounds"]) == ("mlp", 1)


def test_create_prints_a_client_token_per_holder(server, tmp_path):
    url, home, editor = server
    assert len(create(url, editor, "just-tokens", home, "--min-clients", "2",
                      "--join-timeout", "1s")) == 2


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_three_holders_join_and_see_the_model_registered(federation):
    assert [code for code, _ in federation] == [0, 0, 0], federation
    assert all("registered credit-fed:1" in output for _, output in federation)


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_a_holder_watches_the_rounds_go_by(federation):
    _, output = federation[0]
    assert [int(k) for k in re.findall(r"round (\d) of 3: 3 clients, held-out loss", output)
            ] == [1, 2, 3]
    assert "only a summary of them was sent" in output


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_the_federation_says_it_succeeded_with_its_model(server, federation):
    url, _, editor = server
    shown = httpx.get(f"{url}/api/v1/federations/credit-fed",
                      headers={"Authorization": f"Bearer {editor}"}).json()
    assert (shown["state"], shown["model"]) == ("succeeded", "credit-fed:1")
    assert sorted(m["n_rows"] for m in shown["joined"]) == [310, 330, 360]


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_every_round_streams_into_the_federations_run(server, federation):
    url, home, editor = server
    shown = httpx.get(f"{url}/api/v1/federations/credit-fed",
                      headers={"Authorization": f"Bearer {editor}"}).json()
    series = get_run(Workspace(home), shown["run_id"])["series"]
    assert [point["step"] for point in series["loss"]] == [1, 2, 3]
    assert [p["value"] for p in series["participating_clients"]] == [3.0, 3.0, 3.0]


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_the_model_is_evaluated_on_each_holders_held_out_rows_and_weighted(server, federation):
    _, home, _ = server
    package = Workspace(home).registry.load("credit-fed:1")
    record = json.loads((package.path / FEDERATION_FILE).read_text())
    assert len(record["clients"]) == 3
    assert all(0.0 < metrics["accuracy"] <= 1.0 for metrics in record["clients"].values())
    n_test = {name: m["n_test"] for name, m in record["clients"].items()}
    weighted = sum(n_test[n] * m["accuracy"] for n, m in record["clients"].items()) / sum(
        n_test.values())
    assert record["weighted"]["accuracy"] == pytest.approx(weighted)


@pytest.mark.timeout(SLOW_FEDERATION_S)
def test_the_federated_model_deploys_and_predicts(server, federation):
    url, _, editor = server
    headers = {"Authorization": f"Bearer {editor}"}
    httpx.post(f"{url}/api/v1/deployments", headers=headers,
               json={"model": "credit-fed:1"}).raise_for_status()
    records = pd.read_csv(CREDIT).drop(columns=["class"]).head(5).to_dict(orient="records")
    answer = httpx.post(f"{url}/v1/models/credit-fed/predict", headers=headers,
                        json={"records": records}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["predictions"]) <= {"good", "bad"}


def test_a_join_with_a_wrong_column_is_refused_naming_it(server, tables, tmp_path):
    url, home, editor = server
    tokens = create(url, editor, "refusing", home, "--min-clients", "1",
                    "--join-timeout", "5s")
    wrong = tmp_path / "wrong.csv"
    pd.read_csv(tables[0]).rename(columns={"age": "years"}).to_csv(wrong, index=False)
    code, output = finished(trainforge("federated", "join", url, "refusing", "--data",
                                       str(wrong), "--token", tokens[0], home=tmp_path))
    assert code == 2
    assert "missing column(s) 'age'" in output and "extra column(s) 'years'" in output


def test_a_client_token_reading_datasets_gets_403(server):
    url, home, editor = server
    token = create(url, editor, "reader", home, "--min-clients", "1", "--join-timeout", "1s")[0]
    answer = httpx.get(f"{url}/api/v1/datasets", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


def test_too_few_clients_fail_cleanly_after_the_join_timeout(server, tables, tmp_path):
    url, home, editor = server
    tokens = create(url, editor, "lonely", home, "--min-clients", "3", "--join-timeout", "20s")
    code, output = finished(trainforge("federated", "join", url, "lonely", "--data",
                                       str(tables[0]), "--token", tokens[0], home=tmp_path))
    assert code != 0
    assert "waiting for clients: 1 of 3 joined" in output
    assert "gave up waiting for clients: 1 of 3 joined within the join timeout of 20 s" in output
