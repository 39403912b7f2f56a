"""A federation of trees the server coordinates, end to end: `trainforge federated create
--model xgboost`, three `trainforge federated join` processes with three different tables,
and the global booster registered as the catalog's XGBoost, predicting like any model.

Needs Flower's virtualenv with XGBoost (`make test-federated` runs these).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tests.federated import test_join as joining

from trainforge.workspace import Workspace

pytestmark = [pytest.mark.federated, pytest.mark.slow]
server, tables = joining.server, joining.tables  # the same server and holders' tables


@pytest.fixture(scope="module")
def federation(server, tables, tmp_path_factory: pytest.TempPathFactory):
    url, home, editor = server
    tokens = joining.create(url, editor, "credit-trees", home, "--min-clients", "3",
                            "--rounds", "2", "--model", "xgboost")
    joins = [joining.trainforge("federated", "join", url, "credit-trees", "--data", str(table),
                                "--token", token,
                                home=tmp_path_factory.mktemp(f"holder-{index}"))
             for index, (table, token) in enumerate(zip(tables, tokens, strict=True))]
    return [joining.finished(process) for process in joins]


def test_three_holders_bag_trees_into_a_registered_xgboost_that_predicts(server, federation):
    assert [code for code, _ in federation] == [0, 0, 0], federation
    _, home, _ = server
    loaded = Workspace(home).registry.load("credit-trees:1")
    lineage = json.loads((loaded.path / "manifest.json").read_text())["lineage"]
    assert (lineage["model"], lineage["strategy"]) == ("xgboost", "xgb-bagging")
    assert type(loaded.model.members[0].estimator).__name__ == "XGBoostModel"
    rows = pd.read_csv(joining.CREDIT).drop(columns=["class"]).head(50)
    assert set(loaded.model.predict(rows)) <= {"good", "bad"}
    bad = loaded.model.predict_proba(rows)[:, 0]  # the trees tell the rows apart
    assert bad.max() - bad.min() > 0.05
