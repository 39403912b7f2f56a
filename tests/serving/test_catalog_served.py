"""Served predictions equal the loaded package's own, for every catalog algorithm and task kind.

Each model is trained as AutoML trains it (see ``catalog_models``), registered, loaded back and
served; the records go through the predict route's own parser and ``ServedModel.outputs`` (what
``/v1/models/{name}/predict`` answers from), in requests of one row, of 50 rows (the walked-tree
sizes) and of all rows (the libraries' own batch paths). Every seventh record misses a number,
every fifth has categories training never saw, and one misses everything.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import orjson
import pandas as pd
import pytest

from trainforge.serving.served import ServedModel

from .catalog_models import (
    BLEND,
    N_SERVED,
    TABLES,
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
