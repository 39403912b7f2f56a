"""Request ids: every answer of a prediction route carries one, and /predict's body too."""

from __future__ import annotations

import re

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_a_prediction_answers_its_request_id_in_the_body_and_the_header_alike(client,
                                                                            one_record):
    response = client.post("/v1/models/adult/predict", json={"records": [one_record]})
    assert HEX32.match(response.json()["request_id"])
    assert response.headers["x-request-id"] == response.json()["request_id"]


def test_each_request_gets_its_own_id(client, one_record):
    ids = {client.post("/v1/models/adult/predict",
                       json={"records": [one_record]}).headers["x-request-id"]
           for _ in range(3)}
    assert len(ids) == 3


def test_an_error_answer_carries_a_request_id_header_and_no_id_in_its_body(client, one_record):
    del one_record["age"]
    response = client.post("/v1/models/adult/predict", json={"records": [one_record]})
    assert response.status_code == 422
    assert HEX32.match(response.headers["x-request-id"])
    assert "request_id" not in response.json()


def test_an_unknown_model_answer_carries_a_request_id_header(client, one_record):
    response = client.post("/v1/models/nothing/predict", json={"records": [one_record]})
    assert response.status_code == 404
    assert HEX32.match(response.headers["x-request-id"])


def test_invocations_keeps_mlflows_answer_and_gives_the_id_in_a_header_only(client,
                                                                           one_record):
    response = client.post("/invocations", json={"dataframe_records": [one_record]})
    assert list(response.json()) == ["predictions"]
    assert HEX32.match(response.headers["x-request-id"])


def test_the_openapi_documents_the_request_id_of_a_prediction(client):
    schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/v1/models/adult/predict"]["post"]["responses"]["200"]
    model = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "request_id" in schema["components"]["schemas"][model]["required"]
    assert "X-Request-Id" in answer["headers"]
