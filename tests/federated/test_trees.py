"""Trees bagged across holders (``federated.trees``), in one process: what a round adds to the
global booster, the global booster as a registered package that serves its own numbers, and
the settings tree bagging refuses before anything starts (no Flower needed for any of it)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from fastapi.testclient import TestClient
from tests._paths import EXAMPLES

from trainforge.config import FederatedSimulationConfig
from trainforge.data.read import read_table
from trainforge.data.splits import train_test_split
from trainforge.errors import ConfigError
from trainforge.federated import linear, trees
from trainforge.federated.linear import Weights
from trainforge.federated.partition import parse_scheme, partition
from trainforge.federated.plan import TREE_STRATEGY, FederationPlan
from trainforge.federated.planning import declare_table
from trainforge.jobs.federate import run_federated_simulation
from trainforge.serving.app import create_app
from trainforge.store.runs import list_runs
from trainforge.workspace import Workspace

CREDIT = EXAMPLES / "credit_g.csv"
WINE = EXAMPLES / "wine.csv"  # three cultivars: a multiclass booster grows a tree per class


def _holders(table, target: str, *, n_clients: int = 3, local: int = 2
             ) -> tuple[FederationPlan, list[tuple[pd.DataFrame, pd.DataFrame]]]:
    dataset = read_table(table)
    declared = declare_table(dataset, target, model="xgboost")
    frame, task = declared.frame, declared.task
    plan = FederationPlan(schema=declared.schema, strategy=TREE_STRATEGY, rounds=3,
                          min_clients=n_clients, proximal_mu=0.0, local_epochs=local,
                          batch_size=32, learning_rate=0.3, seed=0, test_size=0.2,
                          round_timeout_s=60.0, model="xgboost")
    holders = partition(frame, task, n_clients=n_clients, scheme=parse_scheme("iid"), seed=0,
                        source=str(table))
    return plan, [train_test_split(frame.iloc[h.rows], task, test_size=0.2, seed=0)
                  for h in holders]


def _federate(plan: FederationPlan, splits: list[tuple[pd.DataFrame, pd.DataFrame]], *,
              weighting: str = "hessian") -> Weights:
    """The rounds as the coordinator and the holders run them, without the processes."""
    preprocessor = plan.schema.preprocessor()
    weights = trees.initial_weights(plan)
    for round_number in range(1, plan.rounds + 1):
        updates = [(trees.boost_locally(plan, weights,
                                        linear.encode(rows, plan.schema, preprocessor)[0],
                                        trees.targets(rows, plan.schema), seed=round_number),
                    len(rows)) for rows, _ in splits]
        weights = trees.aggregate(weights, updates, weighting=weighting)
    return weights


def _margin(weights: Weights, inputs: np.ndarray) -> np.ndarray:
    return np.asarray(trees.load_booster(weights).predict(xgb.DMatrix(inputs),
                                                          output_margin=True))


def test_a_round_adds_each_holders_trees_for_every_class_weighted_by_its_rows():
    plan, splits = _holders(WINE, "cultivar")
    preprocessor = plan.schema.preprocessor()
    start = _federate(plan, splits, weighting="rows")  # three rounds in already
    encoded = [linear.encode(rows, plan.schema, preprocessor)[0] for rows, _ in splits]
    updates = [(trees.boost_locally(plan, start, inputs, trees.targets(rows, plan.schema),
                                    seed=9), len(rows))
               for inputs, (rows, _) in zip(encoded, splits, strict=True)]
    after = trees.aggregate(start, updates, weighting="rows")
    probe = np.concatenate(encoded)
    total = sum(n for _, n in updates)
    # a holder's new trees alone: its booster of them minus the base score they carry
    base = _margin(trees.initial_weights(plan), probe)
    expected = _margin(start, probe) + sum(
        n / total * (_margin(update, probe) - base) for update, n in updates)
    assert np.allclose(_margin(after, probe), expected, atol=1e-4)
    added = trees.load_booster(after).num_boosted_rounds() - trees.load_booster(
        start).num_boosted_rounds()
    assert added == len(splits) * plan.local_epochs  # every holder's iterations, 3 trees each


def test_hessian_weighting_gives_a_holder_the_booster_already_fits_less_than_its_rows():
    # two holders of 300 rows: one with both classes, one with only "good" rows, which after
    # three rounds of four iterations the booster predicts with confidence: little hessian is left on them,
    # so that holder's tree takes less than its half of the round's step
    plan, splits = _holders(CREDIT, "class", n_clients=2, local=4)
    pooled = pd.concat([rows for rows, _ in splits])
    holders = [pooled.iloc[:300], pooled.loc[pooled["class"] == "good"].iloc[-300:]]
    preprocessor = plan.schema.preprocessor()
    encoded = [linear.encode(rows, plan.schema, preprocessor)[0] for rows in holders]
    start = _federate(plan, [(rows, rows) for rows in holders], weighting="hessian")
    one_tree = dataclasses.replace(plan, local_epochs=1)
    updates = [(trees.boost_locally(one_tree, start, inputs, trees.targets(rows, plan.schema),
                                    seed=9), len(rows))
               for inputs, rows in zip(encoded, holders, strict=True)]
    after = trees.aggregate(start, updates, weighting="hessian")
    # each holder's one new tree keeps its rows' hessian sum at its root
    hessians = np.asarray([json.loads(trees.as_json(update))["learner"]["gradient_booster"][
        "model"]["trees"][0]["sum_hessian"][0] for update, _ in updates])
    shares = hessians / hessians.sum()
    probe = np.concatenate(encoded)
    base = _margin(trees.initial_weights(plan), probe)
    expected = _margin(start, probe) + sum(
        share * (_margin(update, probe) - base)
        for share, (update, _) in zip(shares, updates, strict=True))
    assert np.allclose(_margin(after, probe), expected, atol=1e-4)
    assert shares[1] < 0.47  # its rows' share is 0.5


def test_holders_whose_trees_do_not_line_up_are_weighted_by_rows_and_the_log_says_so(caplog):
    plan, splits = _holders(CREDIT, "class", n_clients=2, local=2)
    preprocessor = plan.schema.preprocessor()
    start = trees.initial_weights(plan)
    updates = [(trees.boost_locally(dataclasses.replace(plan, local_epochs=epochs), start,
                                    linear.encode(rows, plan.schema, preprocessor)[0],
                                    trees.targets(rows, plan.schema), seed=1), len(rows))
               for epochs, (rows, _) in zip((1, 2), splits, strict=True)]
    with caplog.at_level("WARNING", logger="trainforge.federated.trees"):
        after = trees.aggregate(start, updates, weighting="hessian")
    assert np.allclose(_margin(after, linear.encode(splits[0][0], plan.schema,
                                                    preprocessor)[0]),
                       _margin(trees.aggregate(start, updates, weighting="rows"),
                               linear.encode(splits[0][0], plan.schema, preprocessor)[0]))
    assert "1 or 2 trees" in caplog.text and "share of the rows" in caplog.text


@pytest.mark.parametrize(("table", "target"), [(CREDIT, "class"), (WINE, "cultivar")])
def test_the_global_booster_is_a_catalog_xgboost_package_that_serves_its_own_numbers(
        table, target, tmp_path):
    plan, splits = _holders(table, target)
    model = trees.global_model(_federate(plan, splits), plan)
    workspace = Workspace(tmp_path)
    version = workspace.registry.register(model, name="trees", lineage={"federated": True},
                                          metrics={})
    loaded = workspace.registry.load(f"trees:{version.version}")
    held_out = pd.concat([rows for _, rows in splits]).drop(columns=[target])
    records = held_out.head(25).to_dict(orient="records")
    answer = TestClient(create_app({"trees": loaded})).post(
        "/v1/models/trees/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    served = [[row[label] for label in plan.schema.task.classes]
              for row in answer.json()["probabilities"]]
    assert type(loaded.model.members[0].estimator).__name__ == "XGBoostModel"
    assert np.allclose(served, loaded.model.predict_proba(held_out.head(25)), atol=1e-6)


def test_the_federated_booster_beats_the_majority_class_on_held_out_rows():
    plan, splits = _holders(CREDIT, "class")
    model = trees.global_model(_federate(plan, splits), plan)
    held_out = pd.concat([rows for _, rows in splits])
    accuracy = float((model.predict(held_out) == held_out["class"].to_numpy()).mean())
    majority = float(held_out["class"].value_counts(normalize=True).max())
    assert accuracy > majority + 0.02


@pytest.mark.parametrize(("settings", "why"), [
    ({"secure_aggregation": True}, r"--secure-aggregation \(SecAgg\+ hides each update"),
    ({"dp_epsilon": 3.0}, r"--dp-epsilon \(central DP clips each update"),
    ({"strategy": "fedprox"}, r"--strategy fedprox \(its proximal term pulls weights"),
    ({"strategy": "fedavgm"}, r"--strategy fedavgm \(its momentum steps along"),
])
def test_tree_bagging_refuses_what_only_averaged_weights_allow_before_anything_starts(
        settings, why, tmp_path):
    workspace = Workspace(tmp_path)
    config = FederatedSimulationConfig(data=str(CREDIT), target="class", clients=3,
                                       model="xgboost", **settings)
    with pytest.raises(ConfigError, match=r"--model xgboost bags trees across holders.*" + why):
        run_federated_simulation(config, workspace=workspace)
    assert list_runs(workspace) == []


def test_secure_aggregation_and_central_dp_together_are_both_named_in_the_refusal(tmp_path):
    config = FederatedSimulationConfig(data=str(CREDIT), target="class", clients=3,
                                       model="xgboost", secure_aggregation=True, dp_epsilon=3.0)
    with pytest.raises(ConfigError, match=r"--secure-aggregation .*; and --dp-epsilon "):
        run_federated_simulation(config, workspace=Workspace(tmp_path))


def test_the_federated_booster_explains_each_record_with_contributions_that_add_up(tmp_path):
    plan, splits = _holders(WINE, "cultivar")
    workspace = Workspace(tmp_path)
    workspace.registry.register(trees.global_model(_federate(plan, splits), plan), name="wine",
                                lineage={"federated": True}, metrics={})
    records = splits[0][1].drop(columns=["cultivar"]).head(3).to_dict(orient="records")
    answer = TestClient(create_app({"wine": workspace.registry.load("wine")})).post(
        "/v1/models/wine/predict?explain=true", json={"records": records})
    assert answer.status_code == 200, answer.text
    explained = answer.json()["explanations"]
    assert [len(entry) for entry in explained] == [3, 3, 3]  # every cultivar, every record
    assert max(abs(e["base_value"] + sum(c["contribution"] for c in e["contributions"])
                   + e["rest"] - e["output"]) for entry in explained for e in entry) < 1e-6
