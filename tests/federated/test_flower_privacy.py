"""The coordinator's side of central DP, in Flower's own virtualenv: each client's update is
clipped, the clipped updates are averaged with equal weights (not by rows, which the noise is
not sized for), and Gaussian noise of the planned size lands on the average.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tests._paths import EXAMPLES, ROOT

from trainforge.data.declared_schema import declare_schema
from trainforge.data.read import read_table
from trainforge.data.targets import clean_target, infer_task
from trainforge.federated.environment import code_path, flower_python
from trainforge.federated.plan import FederationPlan

pytestmark = [pytest.mark.federated, pytest.mark.slow]
N_WEIGHTS = 10_000

# two clients from zero weights: one sends all ones (L2 norm 100) from 1,000 rows, the other
# all -0.5 (norm 50) from 1 row; the wrapper's aggregate of them, as its mean and spread
AGGREGATE = f"""
import json, sys
from pathlib import Path
import numpy as np
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.strategy import FedAvg
from trainforge.federated.flower_privacy import with_central_privacy
from trainforge.federated.plan import FederationPlan

start = [np.zeros({N_WEIGHTS}, np.float32)]
strategy = with_central_privacy(FedAvg(), FederationPlan.load(Path(sys.argv[1])))
strategy.current_round_params = start  # what configure_fit keeps of the round's weights
ok = Status(code=Code.OK, message="")
sent = [(np.ones({N_WEIGHTS}, np.float32), 1_000), (np.full({N_WEIGHTS}, -0.5, np.float32), 1)]
results = [(None, FitRes(ok, ndarrays_to_parameters([w]), rows, {{}})) for w, rows in sent]
aggregate = parameters_to_ndarrays(strategy.aggregate_fit(1, results, [])[0])[0]
print(json.dumps({{"mean": float(aggregate.mean()), "std": float(aggregate.std())}}))
"""


def aggregate_of(tmp_path, *, noise_multiplier: float) -> dict[str, float]:
    frame = read_table(EXAMPLES / "credit_g.csv")
    task = infer_task(frame, "class")
    rows, _ = clean_target(frame, task)
    plan = FederationPlan(schema=declare_schema(rows, task, schema=frame.schema, features=[]),
                          strategy="fedavg", rounds=1, min_clients=2, proximal_mu=0.0,
                          local_epochs=1, batch_size=32, learning_rate=0.1, seed=0,
                          test_size=0.2, round_timeout_s=60.0,
                          dp_noise_multiplier=noise_multiplier, dp_clipping_norm=1.0)
    venv = os.environ.get("TRAINFORGE_FLOWER_VENV", str(ROOT / ".venv-flower"))
    done = subprocess.run(
        [str(flower_python(ROOT / venv)), "-c", AGGREGATE, str(plan.save(tmp_path / "plan.json"))],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(code_path(tmp_path)), "FLWR_TELEMETRY_ENABLED": "0"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_updates_are_clipped_and_averaged_with_equal_weights(tmp_path):
    # clipped to norm 1, 0.01 and -0.01 a weight, which average to 0 (by rows: 0.00998; not
    # clipped: 0.25)
    found = aggregate_of(tmp_path, noise_multiplier=1e-6)
    assert found["mean"] == pytest.approx(0.0, abs=1e-4)


def test_the_noise_on_the_average_is_the_planned_multiple_of_the_clipping_bound(tmp_path):
    # noise std = multiplier × clipping bound / clients = 2 × 1 / 2
    found = aggregate_of(tmp_path, noise_multiplier=2.0)
    assert found["std"] == pytest.approx(1.0, rel=0.05)
