"""POST /v1/models/{name}/predict: answers, validation errors, and robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app


def test_a_classifier_answers_labels_and_probabilities_named_by_class(client, one_record):
    response = client.post("/v1/models/adult/predict", json={"records": [one_record]})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "adult:1"
    assert body["predictions"][0] in ("<=50K", ">50K")
    assert set(body["probabilities"][0]) == {"<=50K", ">50K"}


def test_predictions_match_the_model_itself(client, classifier: LoadedModel, records):
    body = client.post("/v1/models/adult/predict", json={"records": records}).json()
    expected = classifier.model.predict_proba(pd.DataFrame(records))
    got = np.array([[p["<=50K"], p[">50K"]] for p in body["probabilities"]])
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert body["predictions"] == list(classifier.model.predict(pd.DataFrame(records)))


def test_a_regressor_answers_numbers_without_probabilities(two_models, one_record):
    body = two_models.post("/v1/models/hours/predict", json={"records": [one_record]}).json()
    assert body["model"] == "hours:1"
    assert isinstance(body["predictions"][0], float)
    assert "probabilities" not in body


def test_fields_the_model_does_not_use_are_ignored_and_named(client, one_record):
    sent = {**one_record, "customer_id": 7, "class": ">50K"}
    body = client.post("/v1/models/adult/predict", json={"records": [sent]}).json()
    assert body["ignored_fields"] == ["customer_id", "class"]


def test_no_ignored_fields_key_when_every_field_is_used(client, one_record):
    body = client.post("/v1/models/adult/predict", json={"records": [one_record]}).json()
    assert "ignored_fields" not in body


def test_a_missing_field_is_a_422_naming_the_field_and_record_without_its_values(client,
                                                                                records):
    del records[1]["age"]
    response = client.post("/v1/models/adult/predict", json={"records": records[:3]})
    assert response.status_code == 422
    assert response.json() == {"detail": [
        {"loc": ["body", "records", 1, "age"], "msg": "Field required", "type": "missing"}]}


def test_a_mistyped_field_is_a_422_naming_the_field_and_record(client, records):
    records[2]["hours_per_week"] = "forty"
    response = client.post("/v1/models/adult/predict", json={"records": records[:3]})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "records", 2, "hours_per_week"]
    assert error["type"] == "number_invalid"


def test_an_explicit_null_is_a_missing_value_the_model_handles(client, one_record):
    sent = {**one_record, "age": None, "workclass": None}
    response = client.post("/v1/models/adult/predict", json={"records": [sent]})
    assert response.status_code == 200


def test_an_unseen_category_is_answered(client, one_record):
    sent = {**one_record, "native_country": "Atlantis"}
    response = client.post("/v1/models/adult/predict", json={"records": [sent]})
    assert response.status_code == 200


def test_a_body_without_records_is_a_422_saying_so(client):
    response = client.post("/v1/models/adult/predict", json={"rows": []})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "records"]


def test_a_body_that_is_not_json_is_a_422(client):
    response = client.post("/v1/models/adult/predict", content=b"{not json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_no_records_get_no_predictions(client):
    body = client.post("/v1/models/adult/predict", json={"records": []}).json()
    assert body["predictions"] == [] and body["probabilities"] == []


def test_an_unknown_model_is_a_404_listing_the_served_ones(client, one_record):
    response = client.post("/v1/models/adlt/predict", json={"records": [one_record]})
    assert response.status_code == 404
    assert "serving: adult" in response.json()["detail"]


def test_a_failing_model_answers_500_and_the_server_keeps_serving(broken_client, one_record):
    failed = broken_client.post("/v1/models/broken/predict", json={"records": [one_record]})
    assert failed.status_code == 500
    assert "broken:3" in failed.json()["detail"]
    after = broken_client.post("/v1/models/adult/predict", json={"records": [one_record]})
    assert after.status_code == 200


def test_a_failure_is_logged_with_its_traceback(broken_client, one_record, caplog):
    broken_client.post("/v1/models/broken/predict", json={"records": [one_record]})
    assert "the estimator fell over" in caplog.text


def test_a_body_over_the_size_limit_is_a_413(client, one_record, monkeypatch):
    monkeypatch.setattr("trainforge.serving.app.MAX_BODY_BYTES", 100)
    response = client.post("/v1/models/adult/predict", json={"records": [one_record] * 5})
    assert response.status_code == 413
    assert "trainforge predict" in response.json()["detail"]


def test_a_multiclass_model_gives_a_probability_for_every_class(multiclass: LoadedModel,
                                                               records):
    client = TestClient(create_app({"relationship": multiclass}))
    sent = [{k: v for k, v in r.items() if k != "relationship"} for r in records[:3]]
    body = client.post("/v1/models/relationship/predict", json={"records": sent}).json()
    assert all(set(p) == set(multiclass.model.classes) for p in body["probabilities"])
    assert all(abs(sum(p.values()) - 1.0) < 1e-9 for p in body["probabilities"])
