"""A table run stays light: it imports no deep-learning library unless it trains a network.

Each check runs in a fresh interpreter, so what other tests imported does not count."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests._paths import EXAMPLES

pytestmark = pytest.mark.slow  # runs a whole training (a few seconds)

_RUN = """
import json, sys
import trainforge as tf
tf.train(sys.argv[1], target="class", trials=2, seed=0,
         workspace=tf.Workspace(sys.argv[2]))
print(json.dumps(sorted(m for m in ("torch", "torchvision", "transformers") if m in sys.modules)))
"""


def test_training_and_registering_a_table_model_does_not_import_torch(tmp_path):
    done = subprocess.run([sys.executable, "-c", _RUN, str(EXAMPLES / "credit_g.csv"),
                           str(tmp_path / "home")], check=False, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
