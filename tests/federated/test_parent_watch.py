"""A Flower process does not outlive the trainforge that started it, even when that one is
killed outright (no cleanup runs then)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

CHILD = ("from trainforge.federated.parent_watch import exit_with_parent\n"
         "import time\nexit_with_parent()\ntime.sleep(60)\n")
# the parent starts the child, says its pid, and waits: it is killed before the child ends
PARENT = ("import subprocess, sys, time\n"
          f"child = subprocess.Popen([sys.executable, '-c', {CHILD!r}])\n"
          "print(child.pid, flush=True)\ntime.sleep(60)\n")


@pytest.mark.slow  # starts and kills processes: ~4 s
def test_a_flower_process_ends_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(1.5)  # the child is running its watch
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    child.wait(timeout=10)  # psutil.TimeoutExpired if it is still there (the child of init
    # now, so its status is not ours to read)
    assert not child.is_running()
