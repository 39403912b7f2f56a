"""`trainforge federated create|token|status` on the local workspace (a server started on it
runs the coordinator), and their errors; tests/federated/test_join.py runs them against a
server, with joins."""

from __future__ import annotations

import re

from tests._paths import EXAMPLES
from tests.federated._certificates import self_signed

from trainforge.jobs.federation_tls import saved_certificates
from trainforge.store import jobs as job_store
from trainforge.store.federations import get_federation
from trainforge.workspace import Workspace

CREDIT = str(EXAMPLES / "credit_g.csv")


def tokens_in(output: str) -> list[str]:
    return re.findall(r"^\s+(tf_\S+)$", output, flags=re.MULTILINE)


def test_create_prints_a_client_token_per_holder_and_queues_the_coordinator(cli, tmp_path):
    done = cli("federated", "create", "credit-fed", "--target", "class", "--like", CREDIT,
               "--min-clients", "2", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(tokens_in(done.stdout)) == 2
    assert [job["kind"] for job in job_store.list_jobs(Workspace(tmp_path))] == ["federation"]


def test_status_says_the_federation_waits_for_its_clients(cli, tmp_path):
    cli("federated", "create", "credit-fed", "--target", "class", "--like", CREDIT,
        "--min-clients", "2", home=tmp_path)
    done = cli("federated", "status", "credit-fed", home=tmp_path)
    assert done.stdout.startswith("credit-fed: waiting for clients: 0 of 2 joined")


def test_token_makes_one_more_client_token(cli, tmp_path):
    cli("federated", "create", "credit-fed", "--target", "class", "--like", CREDIT,
        "--min-clients", "2", home=tmp_path)
    done = cli("federated", "token", "credit-fed", home=tmp_path)
    assert re.fullmatch(r"tf_\S+\n", done.stdout)


def test_a_schema_printed_by_status_creates_a_federation_alike(cli, tmp_path):
    cli("federated", "create", "credit-fed", "--target", "class", "--like", CREDIT,
        home=tmp_path)
    schema = tmp_path / "schema.json"
    schema.write_text(cli("federated", "status", "credit-fed", "--schema", home=tmp_path).stdout)
    done = cli("federated", "create", "again", "--target", "class", "--schema", str(schema),
               home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (cli("federated", "status", "again", "--schema", home=tmp_path).stdout
            == schema.read_text())


def test_create_needs_a_sample_or_a_schema_not_both(cli, tmp_path):
    done = cli("federated", "create", "x", "--target", "class", "--like", CREDIT,
               "--schema", CREDIT, home=tmp_path)
    assert done.returncode == 2 and "--like SAMPLE_FILE" in done.stderr


def test_a_join_timeout_that_is_not_a_duration_is_refused_naming_the_flag(cli, tmp_path):
    done = cli("federated", "create", "x", "--target", "class", "--like", CREDIT,
               "--join-timeout", "soon", home=tmp_path)
    assert done.returncode == 2 and "--join-timeout" in done.stderr


def test_a_target_the_sample_lacks_is_refused_naming_it(cli, tmp_path):
    done = cli("federated", "create", "x", "--target", "klass", "--like", CREDIT,
               home=tmp_path)
    assert done.returncode == 2 and "klass" in done.stderr


def test_status_of_an_unknown_federation_says_how_to_list_them(cli, tmp_path):
    done = cli("federated", "status", "nowhere", home=tmp_path)
    assert done.returncode != 0 and "no federation named 'nowhere'" in done.stderr


def test_list_shows_each_federation_and_where_it_stands(cli, tmp_path):
    cli("federated", "create", "credit-fed", "--target", "class", "--like", CREDIT,
        "--min-clients", "2", home=tmp_path)
    assert cli("federated", "list", home=tmp_path).stdout == (
        "credit-fed: waiting for clients: 0 of 2 joined; the coordinator is starting\n")


def test_create_with_flowers_ssl_flags_keeps_the_certificates_for_the_coordinator(cli, tmp_path):
    files = self_signed(tmp_path)
    done = cli("federated", "create", "credit-tls", "--target", "class", "--like", CREDIT,
               "--model", "mlp", "--listen", "127.0.0.1:9092",
               "--ssl-certfile", str(files.certificate), "--ssl-keyfile", str(files.private_key),
               "--ssl-ca-certfile", str(files.ca_certificate), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    settings = get_federation(Workspace(tmp_path / "home"), "credit-tls")["settings"]
    assert (settings["tls"], settings["model"], settings["listen"]) == (
        True, "mlp", "127.0.0.1:9092")
    kept = saved_certificates(Workspace(tmp_path / "home"), "credit-tls")
    assert kept.certificate.read_text() == files.certificate.read_text()


def test_create_with_a_certificate_but_no_key_is_refused_naming_the_flags(cli, tmp_path):
    files = self_signed(tmp_path)
    done = cli("federated", "create", "x", "--target", "class", "--like", CREDIT,
               "--ssl-certfile", str(files.certificate),
               "--ssl-ca-certfile", str(files.ca_certificate), home=tmp_path)
    assert done.returncode == 2 and "--ssl-keyfile" in done.stderr


def test_create_with_a_model_it_cannot_coordinate_is_refused_naming_the_flag(cli, tmp_path):
    done = cli("federated", "create", "x", "--target", "class", "--like", CREDIT,
               "--model", "cnn", home=tmp_path)
    assert done.returncode == 2 and "--model" in done.stderr
