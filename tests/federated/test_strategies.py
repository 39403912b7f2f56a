"""The coordinator's strategies, in Flower's own virtualenv: FedAvgM (``--strategy fedavgm``)
steps along the running sum of the rounds' average updates, so where the rounds agree it
goes further than FedAvg's plain average; FedAvg is the average. The model the coordinator
keeps is the mean of the global weights over the plan's last rounds when it averages them.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
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


# three FedAvgM rounds through the coordinator's own strategy, the clients sending 1, 3 and 4
# everywhere; the global weights after each round, and the weights the coordinator keeps
KEPT_AFTER_THREE = """
import json, sys
from pathlib import Path
from types import SimpleNamespace
import numpy as np
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from trainforge.federated.flower_server import RecordingStrategy, build_strategy
from trainforge.federated.networks import initial_weights
from trainforge.federated.plan import FederationPlan

plan = FederationPlan.load(Path(sys.argv[1]))
strategy = RecordingStrategy(build_strategy(plan), plan=plan, out=Path(sys.argv[2]), grid=None)
start = initial_weights(plan)
ok = Status(code=Code.OK, message="")
rounds = []
for round_number, value in ((1, 1.0), (2, 3.0), (3, 4.0)):
    sent = [np.full_like(w, value) for w in start]
    results = [(SimpleNamespace(node_id=node, cid=str(node)),
                FitRes(ok, ndarrays_to_parameters(sent), 50, {})) for node in (1, 2)]
    weights = parameters_to_ndarrays(strategy.aggregate_fit(round_number, results, [])[0])
    rounds.append([w.tolist() for w in weights])
print(json.dumps({"rounds": rounds, "kept": [w.tolist() for w in strategy.kept.weights()]}))
"""


def flower_script(tmp_path, script: str, *args: str) -> dict[str, object]:
    """``script`` run by Flower's interpreter with trainforge's code; its last line as JSON."""
    venv = os.environ.get("TRAINFORGE_FLOWER_VENV", str(ROOT / ".venv-flower"))
    done = subprocess.run(
        [str(flower_python(ROOT / venv)), "-c", script, *args],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(code_path(tmp_path)), "FLWR_TELEMETRY_ENABLED": "0"})
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def credit_plan(**settings: object) -> FederationPlan:
    frame = read_table(EXAMPLES / "credit_g.csv")
    task = infer_task(frame, "class")
    rows, _ = clean_target(frame, task)
    return FederationPlan(schema=declare_schema(rows, task, schema=frame.schema, features=[]),
                          min_clients=2, **settings)


def global_means(tmp_path, strategy: str) -> dict[str, object]:
    settings = FederatedSimulationConfig(data="credit_g.csv", target="class", rounds=2,
                                         strategy=strategy).strategy_settings()
    plan = credit_plan(**settings)
    return flower_script(tmp_path, TWO_ROUNDS, str(plan.save(tmp_path / "plan.json")))


def test_fedavgm_carries_the_last_rounds_step_into_the_next(tmp_path):
    # round 1 moves 0 → 1; round 2's average is 2, one more step, and the default momentum 0.7
    # adds 0.7 of round 1's step: 1 + 1 + 0.7
    found = global_means(tmp_path, "fedavgm")
    assert found["strategy"] == "FedAvgM"
    assert found["means"] == pytest.approx([1.0, 2.7])


def test_the_coordinator_keeps_the_mean_of_the_global_weights_over_the_last_rounds(tmp_path):
    settings = FederatedSimulationConfig(data="credit_g.csv", target="class", rounds=3,
                                         strategy="fedavgm").strategy_settings()
    plan = credit_plan(**{**settings, "average_from": 2})
    found = flower_script(tmp_path, KEPT_AFTER_THREE, str(plan.save(tmp_path / "plan.json")),
                          str(tmp_path))
    rounds = [[np.asarray(w) for w in weights] for weights in found["rounds"]]
    # FedAvgM's globals after rounds 2 and 3 (1, then 1 + 2 + 0.7, then 3.7 + 0.3 + 0.7 × 2.7)
    assert [float(np.mean(weights[-1])) for weights in rounds] == pytest.approx([1.0, 3.7, 5.89])
    expected = [(second + third) / 2 for second, third in zip(rounds[1], rounds[2], strict=True)]
    kept = [np.asarray(w) for w in found["kept"]]
    assert all(np.allclose(k, e) for k, e in zip(kept, expected, strict=True))


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
