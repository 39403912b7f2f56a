"""POST /invocations: MLflow's scoring formats, answered as `mlflow models serve` answers."""

from __future__ import annotations

import pandas as pd

from trainforge.registry.loaded import LoadedModel


def test_dataframe_records_get_mlflow_predictions(client, classifier: LoadedModel, records):
    response = client.post("/invocations", json={"dataframe_records": records[:5]})
    assert response.status_code == 200
    expected = list(classifier.model.predict(pd.DataFrame(records[:5])))
    assert response.json() == {"predictions": expected}


def test_dataframe_split_gets_the_same_predictions_as_records(client, records):
    columns = list(records[0])
    split = {"columns": columns, "data": [[r[c] for c in columns] for r in records[:5]]}
    by_split = client.post("/invocations", json={"dataframe_split": split}).json()
    by_records = client.post("/invocations", json={"dataframe_records": records[:5]}).json()
    assert by_split == by_records


def test_instances_and_columnar_inputs_are_accepted(client, records):
    columnar = {c: [r[c] for r in records[:3]] for c in records[0]}
    by_instances = client.post("/invocations", json={"instances": records[:3]}).json()
    by_inputs = client.post("/invocations", json={"inputs": columnar}).json()
    assert by_instances == by_inputs and len(by_inputs["predictions"]) == 3


def test_several_models_need_the_model_query_parameter(two_models, records):
    response = two_models.post("/invocations", json={"dataframe_records": records[:1]})
    assert response.status_code == 400
    assert "/invocations?model=NAME" in response.json()["message"]


def test_the_model_query_parameter_picks_the_model(two_models, records):
    response = two_models.post("/invocations?model=hours", json={"dataframe_records": records[:2]})
    assert response.status_code == 200
    assert all(isinstance(p, float) for p in response.json()["predictions"])


def test_a_missing_field_is_a_400_naming_it_in_mlflow_shape(client, records):
    del records[0]["sex"]
    response = client.post("/invocations", json={"dataframe_records": records[:1]})
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert "dataframe_records.0.sex: Field required" in response.json()["message"]


def test_a_body_in_no_known_format_is_a_400_listing_the_formats(client, records):
    response = client.post("/invocations", json={"rows": records[:1]})
    assert response.status_code == 400
    assert "dataframe_split" in response.json()["message"]


def _csv(records: list[dict[str, object]]) -> str:
    columns = list(records[0])
    rows = [",".join("" if r[c] is None else str(r[c]) for c in columns) for r in records]
    return "\n".join([",".join(columns), *rows]) + "\n"


def test_a_csv_with_a_header_row_gets_the_same_predictions_as_json(client, records):
    by_csv = client.post("/invocations", content=_csv(records[:5]),
                         headers={"content-type": "text/csv"})
    by_json = client.post("/invocations", json={"dataframe_records": records[:5]})
    assert by_csv.status_code == 200
    assert by_csv.json() == by_json.json()


def test_a_csv_over_the_record_limit_is_a_413(classifier, records):
    from fastapi.testclient import TestClient

    from trainforge.serving.app import create_app

    client = TestClient(create_app({"adult": classifier}, max_records=3))
    response = client.post("/invocations", content=_csv(records[:4]),
                           headers={"content-type": "text/csv"})
    assert response.status_code == 413
    assert "at most 3" in response.json()["message"]


def test_another_content_type_is_a_415_naming_the_accepted_ones(client, records):
    response = client.post("/invocations", content=b"age=39",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "text/csv" in response.json()["message"]


def test_a_400_lists_the_first_errors_without_the_values_sent(client, records):
    sent = [{**r, "age": "<b>forty</b>"} for r in records[:30]]
    response = client.post("/invocations", json={"dataframe_records": sent})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "dataframe_records.0.age" in message and "and 10 more errors" in message
    assert "forty" not in message
