"""`/api/v1/federations`: creating a federation (its schema from a sample table or given as
JSON), its client tokens, its status, and the joins it admits or refuses naming the difference.
No worker runs here, so the coordinator job stays queued; tests/federated/test_join.py runs
the whole federation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES
from tests.federated._certificates import self_signed
from tests.server._jobs import upload
from tests.server.conftest import bearer

from trainforge.data.read import read_table
from trainforge.federated.networks import mlp_settings
from trainforge.jobs.federation import FederationSchema, declare_from_sample, summarize
from trainforge.jobs.federation_keys import make_holder_key
from trainforge.jobs.federation_tls import tls_folder
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace

CREDIT = EXAMPLES / "credit_g.csv"


@pytest.fixture(scope="module")
def schema() -> FederationSchema:
    return declare_from_sample(CREDIT, "class")


@pytest.fixture
def created(client: TestClient, workspace: Workspace, tokens: dict[str, str]) -> dict:
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "credit-fed", "target": "class", "min_clients": 3, "rounds": 2,
        "dataset": upload(workspace, CREDIT)})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _summary(frame: pd.DataFrame, tmp_path: Path, schema: FederationSchema) -> dict:
    path = tmp_path / "holder.csv"
    frame.to_csv(path, index=False)
    return summarize(read_table(path), schema)


def _join(client: TestClient, token: str, summary: dict, name: str = "credit-fed"):
    return client.post(f"/api/v1/federations/{name}/join", headers=bearer(token), json=summary)


def test_creating_a_federation_answers_a_client_token_per_expected_holder(created):
    assert len(created["tokens"]) == 3 and len(set(created["tokens"])) == 3


def test_creating_a_federation_queues_its_coordinator_job(created, workspace):
    assert [(j["kind"], j["config"]) for j in job_store.list_jobs(workspace)] == [
        ("federation", {"federation": "credit-fed"})]


def test_a_new_federation_waits_for_its_clients(created):
    assert created["status"] == ("waiting for clients: 0 of 3 joined; the coordinator is "
                                 "starting")


def test_a_join_counts_towards_the_clients_the_federation_waits_for(
        created, client, schema, tmp_path):
    frame = pd.read_csv(CREDIT).iloc[:300]
    assert _join(client, created["tokens"][0], _summary(frame, tmp_path, schema)
                 ).status_code == 200
    status = client.get("/api/v1/federations/credit-fed",
                        headers=bearer(created["tokens"][1])).json()
    assert status["status"].startswith("waiting for clients: 1 of 3 joined")


def test_a_join_answers_the_plan_every_holder_runs(created, client, schema, tmp_path):
    frame = pd.read_csv(CREDIT).iloc[:300]
    answer = _join(client, created["tokens"][0], _summary(frame, tmp_path, schema)).json()
    assert answer["plan"]["rounds"] == 2 and answer["plan"]["min_clients"] == 3
    assert answer["plan"]["schema"] == schema.declared.to_dict()


def test_a_join_without_a_column_is_refused_naming_it(created, client, schema, tmp_path):
    frame = pd.read_csv(CREDIT).iloc[:300].drop(columns=["age"])
    answer = _join(client, created["tokens"][0], _summary(frame, tmp_path, schema))
    assert answer.status_code == 422
    assert "missing column(s) 'age'" in answer.json()["detail"]


def test_a_join_with_an_extra_column_is_refused_naming_it(created, client, schema, tmp_path):
    frame = pd.read_csv(CREDIT).iloc[:300].assign(hospital="north")
    answer = _join(client, created["tokens"][0], _summary(frame, tmp_path, schema))
    assert answer.status_code == 422
    assert "extra column(s) 'hospital'" in answer.json()["detail"]


def test_a_join_with_a_column_of_another_kind_is_refused_naming_it(
        created, client, schema, tmp_path):
    frame = pd.read_csv(CREDIT).iloc[:300]
    frame["age"] = "about " + frame["age"].astype(str)
    answer = _join(client, created["tokens"][0], _summary(frame, tmp_path, schema))
    assert answer.status_code == 422
    assert "column 'age' is categorical, the federation's is numeric" in answer.json()["detail"]


def test_a_join_with_a_class_the_federation_lacks_is_refused_naming_it(
        created, client, schema, tmp_path):
    frame = pd.read_csv(CREDIT).iloc[:300]
    frame.loc[frame.index[:5], "class"] = "unknown"
    answer = _join(client, created["tokens"][0], _summary(frame, tmp_path, schema))
    assert answer.status_code == 422
    assert "class(es) 'unknown' the federation does not" in answer.json()["detail"]


def test_a_refused_join_does_not_count(created, client, schema, tmp_path):
    frame = pd.read_csv(CREDIT).iloc[:300].drop(columns=["age"])
    _join(client, created["tokens"][0], _summary(frame, tmp_path, schema))
    status = client.get("/api/v1/federations/credit-fed",
                        headers=bearer(created["tokens"][0])).json()
    assert status["joined"] == []


@pytest.mark.parametrize("path", ["/api/v1/datasets", "/api/v1/models", "/api/v1/runs",
                                  "/api/v1/jobs", "/api/v1/federations", "/api/v1/me"])
def test_a_client_token_reading_anything_but_its_federation_gets_403(created, client, path):
    assert client.get(path, headers=bearer(created["tokens"][0])).status_code == 403


def test_a_client_token_may_not_predict_with_a_deployed_model(created, client):
    answer = client.post("/v1/models/anything/predict", headers=bearer(created["tokens"][0]),
                         json={"records": [{}]})
    assert answer.status_code == 403


def test_a_client_token_may_not_read_or_join_another_federation(
        created, client, tokens, workspace, schema, tmp_path):
    client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "other", "target": "class", "min_clients": 1,
        "schema": schema.to_dict()}).raise_for_status()
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    token = created["tokens"][0]
    assert client.get("/api/v1/federations/other", headers=bearer(token)).status_code == 403
    assert _join(client, token, summary, name="other").status_code == 403


def test_an_editor_token_does_not_join(created, client, tokens, schema, tmp_path):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    assert _join(client, tokens["editor"], summary).status_code == 403


def test_a_viewer_may_not_create_a_federation(client, tokens, schema):
    answer = client.post("/api/v1/federations", headers=bearer(tokens["viewer"]), json={
        "name": "x", "target": "class", "schema": schema.to_dict()})
    assert answer.status_code == 403


def test_a_federation_given_both_a_sample_and_a_schema_is_refused(client, tokens, workspace,
                                                                  schema):
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "x", "target": "class", "dataset": upload(workspace, CREDIT),
        "schema": schema.to_dict()})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("schema:")


def test_a_schema_whose_metric_does_not_fit_its_task_is_refused(client, tokens, schema):
    given = schema.to_dict()
    given["declared"]["task"]["metric"] = "rmse"
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "x", "target": "class", "schema": given})
    assert answer.status_code == 422 and "rmse" in answer.json()["detail"]


def test_a_second_federation_of_the_same_name_is_a_conflict(created, client, tokens, schema):
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "credit-fed", "target": "class", "schema": schema.to_dict()})
    assert answer.status_code == 409


def test_more_client_tokens_are_made_on_request(created, client, tokens, schema, tmp_path):
    made = client.post("/api/v1/federations/credit-fed/tokens",
                       headers=bearer(tokens["editor"]), json={"count": 2}).json()["tokens"]
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    assert [_join(client, token, summary).status_code for token in made] == [200, 200]


def test_the_federations_list_shows_each_status(created, client, tokens):
    listed = client.get("/api/v1/federations", headers=bearer(tokens["viewer"])).json()
    assert [(f["name"], f["state"]) for f in listed] == [("credit-fed", "waiting")]


def test_a_client_token_sees_how_many_joined_but_not_who(created, client, schema, tmp_path):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    _join(client, created["tokens"][0], summary)
    _join(client, created["tokens"][1], summary)
    shown = client.get("/api/v1/federations/credit-fed",
                       headers=bearer(created["tokens"][1])).json()
    assert shown["status"].startswith("waiting for clients: 2 of 3 joined")
    assert [m["client"] for m in shown["joined"]] == ["credit-fed-client-2"]


@pytest.mark.parametrize("name", ["credit.", ".hidden", "a/b", ""])
def test_a_federation_name_that_cannot_be_a_model_name_is_refused(client, tokens, schema, name):
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": name, "target": "class", "schema": schema.to_dict()})
    assert answer.status_code == 422


def test_a_retried_coordinator_job_of_a_finished_federation_records_its_model(
        created, workspace):
    from trainforge.server.running import run_job
    from trainforge.store.federations import update_federation

    update_federation(workspace, "credit-fed", state="succeeded", run_id="r1",
                      model_name="credit-fed", model_version=1)
    assert run_job(workspace, job_store.list_jobs(workspace)[0])["model"] == "credit-fed:1"


@pytest.fixture
def tls_created(client: TestClient, tokens: dict[str, str], schema: FederationSchema,
                tmp_path: Path) -> dict:
    files = self_signed(tmp_path)
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "credit-tls", "target": "class", "min_clients": 2, "model": "mlp",
        "listen": "127.0.0.1:9092", "schema": schema.to_dict(),
        "tls_certificate": files.certificate.read_text(),
        "tls_private_key": files.private_key.read_text(),
        "tls_ca_certificate": files.ca_certificate.read_text()})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_federation_created_with_certificates_says_it_speaks_tls(tls_created):
    assert (tls_created["tls"], tls_created["learns"], tls_created["listen"]) == (
        True, "mlp", "127.0.0.1:9092")


def test_a_federations_private_key_is_kept_for_its_owner_alone_and_never_shown(
        tls_created, client, tokens, workspace):
    key = tls_folder(workspace, "credit-tls") / "coordinator.key"
    assert "PRIVATE KEY" in key.read_text() and key.stat().st_mode & 0o077 == 0
    shown = client.get("/api/v1/federations/credit-tls", headers=bearer(tokens["editor"]))
    assert "PRIVATE KEY" not in shown.text


def test_a_holder_joining_a_tls_federation_without_a_root_certificate_is_refused(
        tls_created, client, schema, tmp_path):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    answer = _join(client, tls_created["tokens"][0], summary, name="credit-tls")
    assert answer.status_code == 422
    assert "speaks TLS: join with --root-certificates CA.pem" in answer.json()["detail"]
    status = client.get("/api/v1/federations/credit-tls",
                        headers=bearer(tls_created["tokens"][1])).json()
    assert status["status"].startswith("waiting for clients: 0 of 2 joined")


def test_a_holder_trusting_a_root_certificate_joins_a_tls_federation_to_learn_an_mlp(
        tls_created, client, schema, tmp_path):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    _, public_key = make_holder_key(tmp_path)
    answer = _join(client, tls_created["tokens"][0],
                   {**summary, "tls": True, "public_key": public_key}, name="credit-tls").json()
    assert answer["tls"] is True
    assert (answer["plan"]["model"], answer["plan"]["network"]) == ("mlp", mlp_settings())


def test_a_holder_joining_before_the_coordinator_listens_is_told_its_key_waits(
        tls_created, client, schema, tmp_path):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    _, public_key = make_holder_key(tmp_path)
    answer = _join(client, tls_created["tokens"][0],
                   {**summary, "tls": True, "public_key": public_key}, name="credit-tls").json()
    # no worker runs here: the holder joins again once the address is known, which registers
    assert (answer["address"], answer["registered"]) == (None, False)


def test_a_holder_joining_a_tls_federation_without_a_key_is_refused_naming_the_field(
        tls_created, client, schema, tmp_path):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    answer = _join(client, tls_created["tokens"][0], {**summary, "tls": True},
                   name="credit-tls")
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("public_key: a federation that speaks TLS")
    status = client.get("/api/v1/federations/credit-tls",
                        headers=bearer(tls_created["tokens"][1])).json()
    assert status["status"].startswith("waiting for clients: 0 of 2 joined")


def _other_public_keys() -> dict[str, str]:
    """Public keys Flower would not authenticate a SuperNode by, as OpenSSH text."""
    def openssh(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
        return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()

    return {"ed25519": openssh(ed25519.Ed25519PrivateKey.generate()),
            "rsa": openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048))}


@pytest.mark.parametrize("public_key", [
    "not a key", "ecdsa-sha2-nistp384 AAAA", "", "\u0000" * 40, "A" * 5_000,
    *_other_public_keys().values()],
    ids=["text", "truncated", "empty", "nul", "oversized", "ed25519", "rsa"])
def test_a_malformed_public_key_is_a_422_naming_the_field_and_the_join_does_not_count(
        tls_created, client, schema, tmp_path, public_key):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    answer = _join(client, tls_created["tokens"][0],
                   {**summary, "tls": True, "public_key": public_key}, name="credit-tls")
    assert answer.status_code == 422
    assert "public_key" in answer.text
    status = client.get("/api/v1/federations/credit-tls",
                        headers=bearer(tls_created["tokens"][1])).json()
    assert status["status"].startswith("waiting for clients: 0 of 2 joined")


def test_creating_a_federation_says_who_takes_part_in_its_rounds(created, tls_created):
    assert any("without TLS Flower cannot authenticate" in note for note in created["notes"])
    assert any("only the holders who join with a client token take part" in note
               for note in tls_created["notes"])


def test_a_holder_asking_tls_of_a_plain_federation_is_refused(created, client, schema,
                                                             tmp_path):
    summary = _summary(pd.read_csv(CREDIT).iloc[:300], tmp_path, schema)
    answer = _join(client, created["tokens"][0], {**summary, "tls": True})
    assert answer.status_code == 422
    assert "does not speak TLS" in answer.json()["detail"]


def test_a_federation_given_a_certificate_without_its_key_is_refused_naming_it(
        client, tokens, schema, tmp_path):
    files = self_signed(tmp_path)
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "half-tls", "target": "class", "schema": schema.to_dict(),
        "tls_certificate": files.certificate.read_text(),
        "tls_ca_certificate": files.ca_certificate.read_text()})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("tls_private_key:")


def test_a_federation_given_another_certificates_key_is_refused_and_not_created(
        client, tokens, schema, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours, theirs = self_signed(tmp_path / "a"), self_signed(tmp_path / "b")
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "wrong-key", "target": "class", "schema": schema.to_dict(),
        "tls_certificate": ours.certificate.read_text(),
        "tls_private_key": theirs.private_key.read_text(),
        "tls_ca_certificate": ours.ca_certificate.read_text()})
    assert answer.status_code == 422 and "its own private key" in answer.json()["detail"]
    assert client.get("/api/v1/federations/wrong-key",
                      headers=bearer(tokens["editor"])).status_code == 404


def test_a_listen_address_binding_every_interface_is_refused_naming_it(client, tokens, schema):
    answer = client.post("/api/v1/federations", headers=bearer(tokens["editor"]), json={
        "name": "everywhere", "target": "class", "schema": schema.to_dict(),
        "listen": "0.0.0.0:9092"})
    assert answer.status_code == 422 and "no address a holder can dial" in answer.text
