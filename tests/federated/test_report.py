"""The federation's report says what secure aggregation guaranteed, what a round cost on the
wire, and which model was registered."""

from __future__ import annotations

from tests._paths import EXAMPLES

from trainforge.data.read import read_table
from trainforge.data.targets import infer_task
from trainforge.federated.report import write_federated_report


def record(*, secure: dict | None) -> dict:
    clients = {f"client-{i}": {"bytes_down": 3_000, "bytes_up": 2_000 + 1_000 * i}
               for i in range(3)}
    return {"holders": [], "notes": [], "clients": {}, "weighted": {}, "federated": {},
            "centralised": {}, "secure_aggregation": secure,
            "rounds": [{"round": 1, "clients": clients, "seconds": 1.5, "train_loss": 0.6,
                        "loss": 0.55, "metrics": {}, "failures": 0}]}


def write(tmp_path, settings: dict | None = None, **secure) -> str:
    task = infer_task(read_table(EXAMPLES / "credit_g.csv"), "class")
    return write_federated_report(tmp_path / "report.html", title="credit", task=task,
                                  record=record(**secure), settings=settings or {}).read_text()


def test_the_report_says_how_many_clients_a_secure_round_may_lose(tmp_path):
    page = write(tmp_path, secure={"protocol": "SecAgg+ (Flower)", "clients": 10,
                                   "quorum": 6, "may_drop": 4, "reconstruction_threshold": 0.6})
    assert "at least 6 of its 10 clients answer: up to 4 may drop out" in " ".join(page.split())


def test_a_plain_federations_report_claims_no_secure_aggregation(tmp_path):
    assert "Secure aggregation" not in write(tmp_path, secure=None)


def test_each_round_shows_the_bytes_a_client_sent_and_received(tmp_path):
    assert "6000" in write(tmp_path, secure=None)  # (5,000 + 6,000 + 7,000) / 3


def test_the_report_says_the_registered_model_is_the_mean_of_the_last_rounds(tmp_path):
    page = write(tmp_path, settings={"kept": "the mean of the global weights after rounds 23 to "
                                             "30"}, secure=None)
    assert ("The registered model, scored here, is the mean of the global weights after rounds "
            "23 to 30.") in " ".join(page.split())
