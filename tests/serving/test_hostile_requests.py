"""Prediction under abuse: oversized batches, hostile numbers and keys, errors that stay small."""

from __future__ import annotations

import threading

import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES

from trainforge import train
from trainforge.config import MAX_RECORDS
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app
from trainforge.workspace import Workspace

PREDICT = "/v1/models/adult/predict"


def _post(client: TestClient, body: bytes, url: str = PREDICT):
    return client.post(url, content=body, headers={"content-type": "application/json"})


def test_a_request_over_the_record_limit_is_a_413_naming_the_limit(classifier, records):
    client = TestClient(create_app({"adult": classifier}, max_records=5))
    response = client.post(PREDICT, json={"records": records[:6]})
    assert response.status_code == 413
    assert "6 records" in response.json()["detail"]
    assert "at most 5" in response.json()["detail"]
    assert "trainforge predict" in response.json()["detail"]


def test_a_request_at_the_record_limit_is_answered(classifier, records):
    client = TestClient(create_app({"adult": classifier}, max_records=5))
    assert client.post(PREDICT, json={"records": records[:5]}).status_code == 200


def test_a_hundred_thousand_empty_records_get_a_short_413(client):
    response = _post(client, orjson.dumps({"records": [{}] * 100_000}))
    assert response.status_code == 413
    assert len(response.content) < 1_000


def test_a_body_of_more_values_than_the_limit_allows_is_refused_unparsed(client, one_record):
    response = _post(client, orjson.dumps({"records": [one_record] * (MAX_RECORDS + 1)}))
    assert response.status_code == 413
    assert f"at most {MAX_RECORDS:,}" in response.json()["detail"]


def test_validation_errors_list_the_first_twenty_and_count_the_rest(client):
    response = _post(client, orjson.dumps({"records": [{}] * 3_000}))
    assert response.status_code == 422
    body = response.json()
    assert len(body["detail"]) == 20
    assert body["more_errors"] == 3_000 * 14 - 20
    assert body["detail"][0] == {"loc": ["body", "records", 0, "age"], "msg": "Field required",
                                 "type": "missing"}


def test_an_error_never_echoes_what_was_sent(client, one_record):
    sent = {**one_record, "age": "<script>alert(1)</script>"}
    response = client.post(PREDICT, json={"records": [sent] * 300})
    assert response.status_code == 422
    assert b"script" not in response.content


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999",
                                     b"1" + b"0" * 400])
def test_a_number_no_float64_holds_is_a_422_naming_record_and_field(client, one_record,
                                                                    literal):
    body = orjson.dumps({"records": [one_record, {**one_record, "age": 424242}]}).replace(
        b'"age":424242', b'"age":' + literal)
    response = _post(client, body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "records", 1, "age"]]


def test_a_non_finite_category_code_is_a_422(client, one_record):
    body = orjson.dumps({"records": [one_record]}).replace(b'"Never-married"', b"NaN")
    response = _post(client, body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "records", 0, "marital_status"]


def test_a_boolean_is_not_a_number(client, one_record):
    response = client.post(PREDICT, json={"records": [{**one_record, "age": False}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "number_invalid"


def test_unusual_unicode_keys_and_huge_integers_never_answer_500(client, one_record):
    del one_record["sex"]
    body = orjson.dumps({"records": [one_record]})[:-3] + (
        b',"\\u202e\\ud83d\\ude00\\u0000":12345678901234567890123}]}')
    response = _post(client, body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "records", 0, "sex"]


def test_huge_integers_in_an_ignored_field_are_answered(client, one_record):
    body = orjson.dumps({"records": [one_record]})[:-3] + b',"id":12345678901234567890123}]}'
    response = _post(client, body)
    assert response.status_code == 200
    assert response.json()["ignored_fields"] == ["id"]


class _Where:
    """An estimator noting the thread that predicts: is the work on the event loop or not?"""

    def __init__(self, estimator: object) -> None:
        self.estimator, self.threads = estimator, []

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        self.threads.append(threading.get_ident())
        return self.estimator.predict_proba(matrix)  # type: ignore[attr-defined]


def test_a_big_batch_is_predicted_off_the_event_loop_and_one_row_on_it(classifier, records):
    member = classifier.model.members[0]
    where = _Where(member.estimator)
    model = type(classifier.model)(task=classifier.model.task, features=classifier.model.features,
                                   members=[type(member)(algorithm="where", params={},
                                                         preprocessor=member.preprocessor,
                                                         estimator=where)])
    loaded = LoadedModel(name="adult", version=1, model=model, manifest={}, path=classifier.path)
    with TestClient(create_app({"adult": loaded})) as client:
        assert client.post(PREDICT, json={"records": records[:1]}).status_code == 200
        assert client.post(PREDICT, json={"records": records * 10}).status_code == 200
    on_loop, in_worker = where.threads[-2:]  # the first ones: checks at start-up
    assert on_loop != in_worker


@pytest.fixture
def wine(home) -> TestClient:
    """The wine example's linear classifier: its standardised inputs times its weights
    overflow float64 for values near ±1.8e308 (found by the fuzz tests)."""
    train(EXAMPLES / "wine.csv", target="cultivar", algorithm="linear", trials=1, name="wine")
    return TestClient(create_app({"wine": Workspace(home).registry.load("wine")}))


def _wine_record(**changes: float) -> dict[str, object]:
    sane = pd.read_csv(EXAMPLES / "wine.csv").drop(columns=["cultivar"]).iloc[0].to_dict()
    return {**sane, **changes}


@pytest.mark.slow
def test_a_value_the_model_cannot_score_is_a_422_naming_its_field_not_a_null(wine):
    # a softmax over logits that overflowed to ±inf is NaN: no class was really predicted
    answer = wine.post("/v1/models/wine/predict", json={"records": [
        _wine_record(), _wine_record(alcohol=1.7e308)]})
    assert answer.status_code == 422
    assert [problem["loc"] for problem in answer.json()["detail"]] == [
        ["body", "records", 1, "alcohol"]]
    assert "1.7e+308" not in answer.text  # the value sent is never echoed


@pytest.mark.slow
def test_mlflow_invocations_refuse_a_value_the_model_cannot_score_naming_its_field(wine):
    answer = wine.post("/invocations?model=wine",
                       json={"dataframe_records": [_wine_record(alcohol=-1.7e308)]})
    assert answer.status_code == 400 and "alcohol" in answer.json()["message"]


@pytest.mark.slow
def test_explaining_a_value_the_model_cannot_score_is_the_same_422_not_a_500(wine):
    # explained by permutation, the record would reach the linear model unchecked
    answer = wine.post("/v1/models/wine/predict?explain=true", json={"records": [
        _wine_record(alcohol=1.7e308)]})
    assert answer.status_code == 422
    assert [problem["loc"] for problem in answer.json()["detail"]] == [
        ["body", "records", 0, "alcohol"]]
