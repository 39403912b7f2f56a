"""POST /v1/models/{name}/predict?explain=true on an image or text network: which pixels or
words each prediction rests on (integrated gradients), bounded and documented."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.serving.network_models import READ_PIXEL, image_network, images, texts

from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app
from trainforge.serving.network_explain import MAX_EXPLAINED_INPUTS, MAX_STEPS, NetworkExplanation

torch = pytest.importorskip("torch")
URL = "/v1/models/{}/predict?explain=true"


@pytest.fixture
def words(text_network_model: LoadedModel) -> LoadedModel:
    return text_network_model  # tests/conftest.py: network_models.text_network, made once


@pytest.fixture
def pixels(tmp_path: Path) -> LoadedModel:
    return image_network(tmp_path)


def _sent(pictures: list[bytes]) -> list[dict[str, object]]:
    return [{"image": base64.b64encode(p).decode()} for p in pictures]


def test_an_images_grid_puts_its_attribution_on_the_pixel_the_network_reads(pixels):
    client = TestClient(create_app({"pixels": pixels}))
    response = client.post(URL.format("pixels"), json={"records": _sent(images(2))})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["explanation_units"] == "network_score"
    for (entry,), predicted in zip(body["explanations"], body["predictions"], strict=True):
        grid = np.asarray(NetworkExplanation.model_validate(entry).grid)
        assert grid.shape == (8, 8)
        assert np.flatnonzero(grid).tolist() == [READ_PIXEL[0] * 8 + READ_PIXEL[1]]
        assert entry["class"] == predicted


def test_uploaded_images_are_explained_too(pixels):
    client = TestClient(create_app({"pixels": pixels}))
    files = [("image", (f"{i}.png", p, "image/png")) for i, p in enumerate(images(3))]
    response = client.post(URL.format("pixels"), files=files)
    assert response.status_code == 200, response.text
    assert [len(e[0]["grid"]) for e in response.json()["explanations"]] == [8, 8, 8]


def test_a_texts_top_word_is_the_word_that_carries_its_class(words):
    client = TestClient(create_app({"words": words}))
    sent, level = texts(6, seed=1)
    response = client.post(URL.format("words") + "&top_k=3",
                           json={"records": [{"text": t} for t in sent]})
    assert response.status_code == 200, response.text
    explained = [e[0] for e in response.json()["explanations"]]
    assert [e["words"][0]["word"] for e in explained] == [["alpha", "bravo", "charlie"][v]
                                                          for v in level]
    sizes = [[w["attribution"] for w in e["words"]] for e in explained]
    assert sizes == [sorted(s, reverse=True) for s in sizes] and {len(s) for s in sizes} == {3}


def test_explaining_more_images_than_one_request_may_is_a_413_before_any_work(pixels):
    client = TestClient(create_app({"pixels": pixels}))
    sent = _sent(images(1)) * (MAX_EXPLAINED_INPUTS + 1)
    response = client.post(URL.format("pixels"), json={"records": sent})
    assert response.status_code == 413
    assert f"at most {MAX_EXPLAINED_INPUTS}" in response.json()["detail"]


def test_more_steps_than_allowed_is_a_422_naming_the_parameter_and_its_bound(pixels):
    client = TestClient(create_app({"pixels": pixels}))
    response = client.post(URL.format("pixels") + f"&steps={MAX_STEPS + 1}",
                           json={"records": _sent(images(1))})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "steps"] and f"1 to {MAX_STEPS}" in error["msg"]


def test_a_text_network_without_its_own_word_table_is_a_422_saying_why(words):
    network = words.tabular.members[0].estimator
    frozen = type(network)(architecture="minilm", task_kind="multiclass", n_classes=3)
    frozen.module_ = torch.nn.Sequential(torch.nn.Embedding(50, 4))  # no padding row 0
    frozen.inputs_ = network.inputs_
    member = replace(words.tabular.members[0], estimator=frozen)
    model = replace(words.model, members=[member])
    client = TestClient(create_app({"frozen": replace(words, model=model)}))
    response = client.post(URL.format("frozen"), json={"records": [{"text": "alpha echo"}]})
    assert response.status_code == 422
    assert "frozen pretrained encoder" in response.json()["detail"]


def test_the_openapi_documents_a_networks_explanations_and_their_bounds(pixels):
    schema = TestClient(create_app({"pixels": pixels})).get("/openapi.json").json()
    operation = schema["paths"]["/v1/models/pixels/predict"]["post"]
    steps = next(p for p in operation["parameters"] if p["name"] == "steps")
    assert steps["schema"]["maximum"] == MAX_STEPS
    assert "NetworkExplanation" in schema["components"]["schemas"]
    assert f"at most {MAX_EXPLAINED_INPUTS}" in operation["responses"]["413"]["description"]
