"""GET /health, GET /metrics (Prometheus text format) and the OpenAPI docs."""

from __future__ import annotations

import re

from trainforge.serving.values import FLOAT64_MAX

HELP_OR_TYPE = re.compile(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? '
                    r"(-?[0-9.e+-]+|\+Inf|NaN)$")


def _samples(text: str) -> dict[str, float]:
    """Parse the exposition format strictly: every line a comment or a sample."""
    samples = {}
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("#"):
            assert HELP_OR_TYPE.match(line), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        name_and_labels, value = line.rsplit(" ", 1)
        samples[name_and_labels] = float(value)
    return samples


def test_health_lists_the_served_models(two_models):
    assert two_models.get("/health").json() == {"status": "ok", "models": ["adult:1", "hours:1"]}


def test_metrics_count_requests_by_status_and_predictions_served(client, records):
    client.post("/v1/models/adult/predict", json={"records": records[:3]})
    client.post("/v1/models/adult/predict", json={"records": [{}]})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    ok = 'trainforge_requests_total{model="adult:1",route="/v1/models/{name}/predict",status="200"}'
    bad = ok.replace('"200"', '"422"')
    assert samples[ok] == 1 and samples[bad] == 1
    assert samples['trainforge_predictions_total{model="adult:1"}'] == 3
    assert samples['trainforge_request_duration_seconds_count{model="adult:1"}'] == 2
    assert samples['trainforge_request_duration_seconds_bucket{model="adult:1",le="+Inf"}'] == 2


def test_the_openapi_docs_show_each_models_request_schema(two_models):
    schema = two_models.get("/openapi.json").json()
    body = schema["paths"]["/v1/models/adult/predict"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/AdultPredictRequest")
    record = schema["components"]["schemas"]["AdultRecord"]
    assert "age" in record["required"] and "native_country" in record["required"]
    assert {"type": "number", "exclusiveMinimum": -FLOAT64_MAX,
            "exclusiveMaximum": FLOAT64_MAX} in (
        record["properties"]["age"]["anyOf"])
    assert "HoursRecord" in schema["components"]["schemas"]


def test_the_docs_page_is_served(client):
    assert client.get("/docs").status_code == 200


def test_an_integer_beyond_float64s_range_is_refused_though_it_rounds_into_it(client,
                                                                            one_record):
    # larger than float64's largest value, to which it rounds (found by fuzzing)
    answer = client.post("/v1/models/adult/predict", json={"records": [
        {**one_record, "age": 2**1024 - 2**971 + 2**960}]})
    assert (answer.status_code, answer.json()["detail"][0]["loc"][-1]) == (422, "age")
