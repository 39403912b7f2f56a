"""A federation of processes loses a client and goes on: Flower's coordinator aggregates the
clients that are left, as long as the plan's minimum are.

Needs Flower's virtualenv (`make test-federated` runs it).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
from tests._paths import EXAMPLES, ROOT

from trainforge.data.declared_schema import declare_schema
from trainforge.data.read import read_table
from trainforge.data.targets import clean_target, feature_columns, infer_task
from trainforge.federated.environment import flower_python
from trainforge.federated.partition import Scheme, partition
from trainforge.federated.plan import FederationPlan
from trainforge.federated.processes import run_federation

pytestmark = [pytest.mark.federated, pytest.mark.slow]


def test_a_client_killed_during_the_rounds_leaves_the_others_to_finish(tmp_path):
    dataset = read_table(EXAMPLES / "credit_g.csv")
    task = infer_task(dataset, "class")
    frame, _ = clean_target(dataset, task)
    schema = declare_schema(frame, task, schema=dataset.schema,
                            features=feature_columns(dataset.schema, "class", frame=frame))
    tables = []
    for holder in partition(frame, task, n_clients=3, scheme=Scheme("iid"), seed=0):
        tables.append((holder.name, tmp_path / f"{holder.name}.parquet"))
        frame.iloc[holder.rows].to_parquet(tables[-1][1], index=False)
    plan = FederationPlan(schema=schema, strategy="fedavg", rounds=8, min_clients=2,
                          proximal_mu=0.0, local_epochs=1, batch_size=32, learning_rate=0.1,
                          seed=0, test_size=0.2, round_timeout_s=120.0)
    rounds, lost = [], []

    # the kill lands a round or two later (rounds take a fraction of a second; the record is
    # read every 0.2 s): 8 rounds leave the last ones to the two clients left
    def kill_client_2_after_round_1(record: dict) -> None:
        rounds.append(record)
        if record["round"] == 1:
            client = next(p for p in psutil.Process().children(recursive=True)
                          if "client-2" in p.cmdline())
            os.kill(client.pid, signal.SIGKILL)  # not waited for here: that would reap it,
            # and trainforge would read its status as 0

    venv = Path(os.environ.get("TRAINFORGE_FLOWER_VENV", ROOT / ".venv-flower"))
    weights = run_federation(plan, tables, python=flower_python(venv), scratch=tmp_path,
                             on_round=kill_client_2_after_round_1,
                             on_client_lost=lambda name, why: lost.append(name))
    assert sorted(rounds[0]["clients"]) == ["client-0", "client-1", "client-2"]
    assert sorted(rounds[-1]["clients"]) == ["client-0", "client-1"]
    assert len(rounds) == 8
    assert lost == ["client-2"]
    assert weights[0].shape == (2, schema.preprocessor().n_features_out_)
