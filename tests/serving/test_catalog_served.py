"""Served predictions equal the loaded package's own, for every catalog algorithm and task kind.

Each model is trained as AutoML trains it (see ``catalog_models``), registered, loaded back and
served; the records go through the predict route's own parser and ``ServedModel.outputs`` (what
``/v1/models/{name}/predict`` answers from), in requests of one row, of 50 rows (the walked-tree
sizes) and of all rows (the libraries' own batch paths). Explained answers (``explain=true``,
which a blend of walked trees answers from its walk's margins) are held to the same contract. Every seventh record misses a number,
every fifth has categories training never saw, and one misses everything.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import orjson
import pandas as pd
import pytest
from tests.serving._predictions import count_predictions

from trainforge.serving.app import _explained_answer
from trainforge.serving.explain import WALKED_ROWS, ExplainQuery, ServedExplainer
from trainforge.serving.served import ServedModel

from .catalog_models import (
    BLEND,
    BOOSTERS,
    N_SERVED,
    TABLES,
    WALKED_BLEND,
    Trained,
    tabular_algorithms,
    train_catalog,
    train_unsupervised,
)

pytestmark = pytest.mark.slow  # ~40 s to train the catalog on three tables

# request size → (records per request, records sent): a request per record for all 300 would
# only repeat what the first 60 show
BATCHES = {"one row": (1, 60), "50 rows": (50, N_SERVED), "all rows": (N_SERVED, N_SERVED)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Trained]:
    cache: dict[str, Trained] = {}

    def of(table: str) -> Trained:
        if table not in cache:
            cache[table] = train_catalog(table, tmp_path_factory.mktemp(table))
        return cache[table]

    return of


def hostile_records(rows: pd.DataFrame) -> list[dict[str, object]]:
    """The rows as JSON records, with missing numbers, unseen categories and an empty record."""
    records = [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                for k, v in row.items()} for row in rows.to_dict("records")]
    numbers = [c for c in rows.columns if pd.api.types.is_numeric_dtype(rows[c])]
    texts = [c for c in rows.columns if c not in numbers]
    for index, record in enumerate(records):
        if index % 7 == 0:
            record[numbers[index % len(numbers)]] = None
        if index % 5 == 0:
            record.update({name: "a value never seen in training" for name in texts[:3]})
    records[3] = dict.fromkeys(records[3])
    return records


def served_outputs(served: ServedModel, records: list[dict[str, object]], *,
                   batch: int) -> np.ndarray:
    parts = []
    for start in range(0, len(records), batch):
        body = orjson.dumps({"records": records[start:start + batch]})
        parts.append(served.outputs(served.signature.parse_request(body)))
    return np.concatenate(parts)


def own_outputs(served: ServedModel, records: list[dict[str, object]]) -> np.ndarray:
    model, frame = served.loaded.tabular, pd.DataFrame(records)
    return model.predict_proba(frame) if served.classify else model.predict(frame)


@pytest.mark.parametrize("batch", list(BATCHES))
@pytest.mark.parametrize("algorithm", [*tabular_algorithms(), BLEND])
@pytest.mark.parametrize("table", list(TABLES))
def test_the_served_prediction_is_the_packages_own(table: str, algorithm: str, batch: str,
                                                    trained: Callable[[str], Trained]):
    packages = trained(table)
    served = ServedModel(packages.models[algorithm])
    per_request, n_records = BATCHES[batch]
    records = hostile_records(packages.rows)[:n_records]
    got = served_outputs(served, records, batch=per_request)
    np.testing.assert_allclose(got, own_outputs(served, records), rtol=0, atol=1e-6)


# request size → (records per request, records sent) for explained answers: one row, and the
# most rows the blend walk explains (more go to the libraries' TreeSHAP, after predicting)
EXPLAINED = {"one row": (1, 24), "walked rows": (WALKED_ROWS, 48)}
EXPLAINED_MODELS = [*BOOSTERS, WALKED_BLEND, "random_forest"]


def explained_answers(served: ServedModel, records: list[dict[str, object]], *,
                      batch: int) -> list[dict[str, object]]:
    """The bodies the predict route answers ``explain=true`` requests of ``batch`` records."""
    explainer = ServedExplainer(served)
    return [_explained_answer(served, explainer, orjson.dumps({"records": records[at:at + batch]}),
                              max_records=batch, query=ExplainQuery()).body
            for at in range(0, len(records), batch)]


def answered_outputs(served: ServedModel, bodies: list[dict[str, object]]) -> np.ndarray:
    if served.classify:
        return np.asarray([list(p.values()) for body in bodies
                           for p in body["probabilities"]])  # type: ignore[attr-defined]
    return np.asarray([v for body in bodies for v in body["predictions"]])  # type: ignore[attr-defined]


@pytest.mark.parametrize("batch", list(EXPLAINED))
@pytest.mark.parametrize("algorithm", EXPLAINED_MODELS)
@pytest.mark.parametrize("table", list(TABLES))
def test_an_explained_answer_predicts_what_the_package_predicts(
        table: str, algorithm: str, batch: str, trained: Callable[[str], Trained]):
    packages = trained(table)
    served = ServedModel(packages.models[algorithm])
    per_request, n_records = EXPLAINED[batch]
    records = hostile_records(packages.rows)[:n_records]
    bodies = explained_answers(served, records, batch=per_request)
    np.testing.assert_allclose(answered_outputs(served, bodies), own_outputs(served, records),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("algorithm", EXPLAINED_MODELS)
@pytest.mark.parametrize("table", ["credit_g", "wine"])  # the binary and the multiclass table
def test_an_explained_answer_labels_each_record_as_plain_predict_does(
        table: str, algorithm: str, trained: Callable[[str], Trained]):
    packages = trained(table)
    served = ServedModel(packages.models[algorithm])
    records = hostile_records(packages.rows)[:48]
    bodies = explained_answers(served, records, batch=WALKED_ROWS)
    plain = [served.answer(served.signature.parse_request(orjson.dumps({"records": [r]})))
             for r in records]
    labels = [label for body in bodies for label in body["predictions"]]  # type: ignore[attr-defined]
    assert labels == [label for body in plain for label in body["predictions"]]
    assert labels == served.loaded.tabular.predict(pd.DataFrame(records)).tolist()


@pytest.mark.parametrize("table", list(TABLES))
def test_a_walked_blends_explained_answer_adds_up_to_its_prediction(
        table: str, trained: Callable[[str], Trained]):
    packages = trained(table)
    served = ServedModel(packages.models[WALKED_BLEND])
    records = hostile_records(packages.rows)[:24]
    bodies = explained_answers(served, records, batch=1)
    outputs = answered_outputs(served, bodies).reshape(len(records), -1)
    for row, body in enumerate(bodies):
        for entry in body["explanations"][0]:  # type: ignore[index]
            at = served.classes.index(entry["class"]) if served.classify else 0
            assert entry["output"] == pytest.approx(outputs[row, at], abs=1e-12)
            added = entry["base_value"] + entry["rest"] + sum(
                c["contribution"] for c in entry["contributions"])
            assert added == pytest.approx(entry["output"], abs=1e-6)


@pytest.mark.parametrize("table", list(TABLES))
def test_a_walked_blends_explained_answer_is_not_predicted_twice(
        table: str, trained: Callable[[str], Trained]):
    served = ServedModel(trained(table).models[WALKED_BLEND])
    predicted = count_predictions(served)
    explained_answers(served, hostile_records(trained(table).rows)[:8], batch=1)
    assert predicted == []


def test_the_catalog_covers_every_supervised_task_kind(trained: Callable[[str], Trained]):
    kinds = {trained(table).kind.value for table in TABLES}
    assert kinds == {"binary", "multiclass", "regression"}


@pytest.mark.parametrize("kind", ["clustering", "anomaly"])
def test_served_segments_and_anomaly_scores_are_the_packages_own(
        kind: str, tmp_path_factory: pytest.TempPathFactory):
    loaded, rows = train_unsupervised(tmp_path_factory.mktemp(kind))[kind]
    served = ServedModel(loaded)
    records = hostile_records(rows)
    model, frame = loaded.tabular, pd.DataFrame(records)
    expected = model.predict(frame) if kind == "clustering" else model.anomaly_score(frame)
    np.testing.assert_allclose(served_outputs(served, records, batch=50), expected,
                               rtol=0, atol=1e-6)
