"""The model a federation keeps after its last round: the mean of the global weights over the
plan's last rounds, or the last round's; and which one ``--strategy auto`` plans."""

from __future__ import annotations

import numpy as np
import pytest
from tests._paths import EXAMPLES

from trainforge.config import FederatedSimulationConfig
from trainforge.data.declared_schema import declare_schema
from trainforge.data.read import read_table
from trainforge.data.targets import clean_target, infer_task
from trainforge.federated.kept_model import KeptModel, kept_words
from trainforge.federated.plan import AUTO_MOMENTUM_ROUNDS, FederationPlan, planned_strategy


def credit_plan(*, rounds: int, average_from: int) -> FederationPlan:
    frame = read_table(EXAMPLES / "credit_g.csv")
    task = infer_task(frame, "class")
    rows, _ = clean_target(frame, task)
    settings = FederatedSimulationConfig(data="credit_g.csv", target="class", rounds=rounds,
                                         strategy="fedavgm").strategy_settings()
    return FederationPlan(schema=declare_schema(rows, task, schema=frame.schema, features=[]),
                          min_clients=2, **settings, average_from=average_from)


def weights(value: float) -> list[np.ndarray]:
    return [np.full((2, 3), value, dtype=np.float32), np.full(2, -value, dtype=np.float32)]


def followed(plan: FederationPlan, values: list[float]) -> KeptModel:
    kept = KeptModel(plan)
    for round_number, value in enumerate(values, start=1):
        kept.add(round_number, weights(value))
    return kept


def test_the_kept_model_is_the_mean_of_the_global_weights_from_the_planned_round_on():
    kept = followed(credit_plan(rounds=4, average_from=3), [10.0, 20.0, 1.0, 2.0])
    assert [w.tolist() for w in kept.weights()] == [[[1.5] * 3] * 2, [-1.5, -1.5]]
    assert kept.averaged


def test_the_mean_keeps_each_arrays_type_and_shape():
    kept = followed(credit_plan(rounds=3, average_from=1), [0.1, 0.2, 0.4])
    assert [(w.dtype, w.shape) for w in kept.weights()] == [(np.float32, (2, 3)),
                                                            (np.float32, (2,))]


def test_without_averaging_the_kept_model_is_the_last_rounds():
    kept = followed(credit_plan(rounds=3, average_from=0), [1.0, 2.0, 3.0])
    assert [w.tolist() for w in kept.weights()] == [w.tolist() for w in weights(3.0)]
    assert not kept.averaged


def test_the_words_say_which_rounds_the_registered_model_averages():
    assert kept_words(credit_plan(rounds=30, average_from=23)).startswith(
        "the mean of the global weights after rounds 23 to 30")
    assert kept_words(credit_plan(rounds=10, average_from=0)) == (
        "the global model after round 10, the last")


def test_nothing_to_keep_before_a_round_is_said_so():
    with pytest.raises(ValueError, match="no round"):
        KeptModel(credit_plan(rounds=3, average_from=2)).weights()


def test_auto_keeps_the_mean_of_the_last_quarter_of_a_long_federations_rounds():
    settings = FederatedSimulationConfig(data="t.csv", target="y", rounds=30).strategy_settings()
    planned = planned_strategy(settings, model="mlp")
    assert (planned["strategy"], planned["average_from"]) == ("fedavgm", 23)


def test_auto_keeps_the_last_round_of_a_short_federation_and_of_trees():
    short = FederatedSimulationConfig(data="t.csv", target="y",
                                      rounds=AUTO_MOMENTUM_ROUNDS - 1).strategy_settings()
    assert planned_strategy(short, model="linear").get("average_from", 0) == 0
    long = FederatedSimulationConfig(data="t.csv", target="y", rounds=30).strategy_settings()
    assert planned_strategy(long, model="xgboost").get("average_from", 0) == 0


def test_a_strategy_asked_by_name_keeps_the_last_round():
    settings = FederatedSimulationConfig(data="t.csv", target="y", rounds=30,
                                         strategy="fedavgm").strategy_settings()
    assert planned_strategy(settings, model="mlp").get("average_from", 0) == 0
