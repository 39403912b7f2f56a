"""kill -9 of a worker training a network: the retry continues from the last checkpoint."""

from __future__ import annotations

import os
import re
import shutil
import signal

import pytest
from tests._paths import EXAMPLES
from tests.server._jobs import EDITOR, HEARTBEAT_S, STALE_AFTER_S, job_status, wait_for

from trainforge.server.job_requests import TrainJob, submit
from trainforge.server.supervisor import Supervisor
from trainforge.store import jobs as job_store
from trainforge.store.runs import list_runs
from trainforge.store.uploads import new_upload_dir, record_upload
from trainforge.workspace import Workspace

pytestmark = pytest.mark.slow  # kills a worker mid-training and waits for the resume

pytest.importorskip("torch")

EPOCH = re.compile(r"^cnn epoch (\d+)/")
# 24 training images are one optimiser step an epoch, so the CNN would train 200 epochs (for
# 500 steps); 30 leave the kill, after epoch 3, well inside the trial
EPOCHS = 30


def upload_digits(workspace: Workspace) -> str:
    """Three digit classes, 10 images each, as an upload: an image folder (the upload route
    takes files; the store's record of where an upload lies is what the job reads). Ten, not
    twenty: the job's epochs are what this test pays for, and each costs about its images."""
    upload_id, directory = new_upload_dir(workspace)
    root = directory / "digits"
    for label in ("3", "5", "8"):
        (root / label).mkdir(parents=True)
        for image in sorted((EXAMPLES / "digits" / label).iterdir())[:10]:
            shutil.copy(image, root / label / image.name)
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    record_upload(workspace, upload_id=upload_id, path=root, size_bytes=size, sha256="folder",
                  uploaded_by="test")
    return upload_id


def epochs_logged(workspace: Workspace, job_id: str) -> list[int]:
    return [int(m.group(1)) for line in job_store.read_log(workspace, job_id)
            if (m := EPOCH.match(line["text"]))]


def test_a_network_job_whose_worker_is_killed_resumes_from_its_last_checkpoint(tmp_path):
    workspace = Workspace(tmp_path / "home")
    request = TrainJob(kind="train", dataset=upload_digits(workspace), algorithm="cnn",
                       trials=1, seed=3, name="digits", max_epochs=EPOCHS)
    job_id = submit(workspace, request, EDITOR)["id"]
    supervisor = Supervisor(workspace, workers=1, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        wait_for(lambda: len(epochs_logged(workspace, job_id)) >= 3, timeout_s=90,
                 what="three epochs of the network", every_s=0.05)
        os.kill(supervisor.pids()[0], signal.SIGKILL)
        before = epochs_logged(workspace, job_id)
        done = wait_for(lambda: job_status(workspace, job_id, "succeeded", "failed"),
                        timeout_s=180, what="the job to end on the restarted worker")
    finally:
        supervisor.stop(timeout_s=15)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2 and len(list_runs(workspace)) == 1
    after = epochs_logged(workspace, job_id)[len(before):]
    # the retry's first epoch is the one after the last checkpoint, not epoch 1 again
    assert after and after[0] > 1 and after[0] <= before[-1] + 2
    assert max(before + after) <= EPOCHS  # the job's --max-epochs reached the network
