"""The coordinator's strategies, in Flower's own virtualenv: FedAvgM (``--strategy fedavgm``)
steps along the running sum of the rounds' average updates, so where the rounds agree it
goes further than FedAvg's plain average; FedAvg is the average.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tests._paths import EXAMPLES, ROOT

from trainforge.config import FederatedSimulationConfig
from trainforge.data.declared_schema import declare_schema
from trainforge.data.read import read_table
from trainforge.data.targets import clean_target, infer_task
from trainforge.federated.environment import code_path, flower_python
from trainforge.federated.plan import (
    AUTO_MOMENTUM_ROUNDS,
    TREE_STRATEGY,
    FederationPlan,
    planned_strategy,
)

pytestmark = [pytest.mark.federated, pytest.mark.slow]

# two rounds from the linear model's zero start: every client sends all ones in round 1 and
# all twos in round 2; the global weights after each round, as their mean
TWO_ROUNDS = """
import json, sys
from pathlib import Path
import numpy as np
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from trainforge.federated.flower_server import build_strategy
from trainforge.federated.networks import initial_weights
from trainforge.federated.plan import (
    AUTO_MOMENTUM_ROUNDS,
    TREE_STRATEGY,
    FederationPlan,
    planned_strategy,
)

plan = FederationPlan.load(Path(sys.argv[1]))
strategy = build_strategy(plan)
start = initial_weights(plan)
ok = Status(code=Code.OK, message="")
means = []
for round_number, value in ((1, 1.0), (2, 2.0)):
    sent = [np.full_like(w, value) for w in start]
    results = [(None, FitRes(ok, ndarrays_to_parameters(sent), rows, {})) for rows in (30, 70)]
    weights = parameters_to_ndarrays(strategy.aggregate_fit(round_number, results, [])[0])
    means.append(float(np.mean(np.concatenate([w.ravel() for w in weights]))))
print(json.dumps({"strategy": type(strategy).__name__, "means": means}))
"""


def global_means(tmp_path, strategy: str) -> dict[str, object]:
    frame = read_table(EXAMPLES / "credit_g.csv")
    task = infer_task(frame, "class")
    rows, _ = clean_target(frame, task)
    settings = FederatedSimulationConfig(data="credit_g.csv", target="class", rounds=2,
                                         strategy=strategy).strategy_settings()
    plan = FederationPlan(schema=declare_schema(rows, task, schema=frame.schema, features=[]),
                          min_clients=2, **settings)
    venv = os.environ.get("TRAINFORGE_FLOWER_VENV", str(ROOT / ".venv-flower"))
    done = subprocess.run(
        [str(flower_python(ROOT / venv)), "-c", TWO_ROUNDS,
         str(plan.save(tmp_path / "plan.json"))],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(code_path(tmp_path)), "FLWR_TELEMETRY_ENABLED": "0"})
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_fedavgm_carries_the_last_rounds_step_into_the_next(tmp_path):
    # round 1 moves 0 → 1; round 2's average is 2, one more step, and the default momentum 0.7
    # adds 0.7 of round 1's step: 1 + 1 + 0.7
    found = global_means(tmp_path, "fedavgm")
    assert found["strategy"] == "FedAvgM"
    assert found["means"] == pytest.approx([1.0, 2.7])


def test_fedavg_takes_the_average_each_round(tmp_path):
    found = global_means(tmp_path, "fedavg")
    assert found["means"] == pytest.approx([1.0, 2.0])


def test_a_strategy_without_a_setting_plans_zero_for_it():
    fedavg = FederatedSimulationConfig(data="t.csv", target="y", strategy="fedavg",
                                       proximal_mu=0.5, server_momentum=0.5).strategy_settings()
    assert (fedavg["proximal_mu"], fedavg["server_momentum"]) == (0.0, 0.0)
    fedavgm = FederatedSimulationConfig(data="t.csv", target="y", strategy="fedavgm",
                                        server_momentum=0.5).strategy_settings()
    assert fedavgm["server_momentum"] == 0.5


def test_auto_plans_fedavgm_with_the_default_momentum_for_long_federations():
    settings = FederatedSimulationConfig(data="t.csv", target="y",
                                         rounds=AUTO_MOMENTUM_ROUNDS).strategy_settings()
    mlp = planned_strategy(settings, model="mlp")
    assert (mlp["strategy"], mlp["server_momentum"]) == ("fedavgm", 0.7)


def test_auto_plans_plain_fedavg_for_a_few_rounds_and_bagging_for_trees():
    settings = FederatedSimulationConfig(data="t.csv", target="y",
                                         rounds=AUTO_MOMENTUM_ROUNDS - 1).strategy_settings()
    linear = planned_strategy(settings, model="linear")
    assert (linear["strategy"], linear["server_momentum"]) == ("fedavg", 0.0)
    assert planned_strategy(settings, model="xgboost")["strategy"] == TREE_STRATEGY


def test_a_strategy_asked_by_name_is_planned_as_asked():
    settings = FederatedSimulationConfig(data="t.csv", target="y",
                                         strategy="fedavg").strategy_settings()
    assert planned_strategy(settings, model="mlp")["strategy"] == "fedavg"
