"""The job queue on the local workers vs on a Ray cluster of two one-CPU nodes on this machine.

    python benchmarks/scale/ray_jobs.py                      # local and ray, then the kill
    python benchmarks/scale/ray_jobs.py --backends local     # runs on code without Ray too

Prints, per backend:
- submit-to-start latency of a job queued on an idle queue (``--latency-jobs`` predict jobs
  one after another): from the job's ``created_at`` to its worker's "started attempt" log
  line, p50 and p99 (and the first, which on Ray starts a worker process);
- the wall time of ``--batch`` small train jobs (linear, 1 trial, credit_g) queued at once,
  until all have finished (two local worker processes vs two one-CPU Ray nodes);
- with ray: a network (cnn on 60 digits) trained on the second node, that node killed (-9,
  every process of it) half an epoch after epoch 3: the seconds of training lost (kill time minus the end
  of the epoch it resumed after) and the time to the first resumed epoch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests._paths import EXAMPLES
from tests.server._jobs import EDITOR, HEARTBEAT_S, STALE_AFTER_S, upload

import trainforge as tf
from trainforge.server.job_requests import PredictJob, TrainJob, submit
from trainforge.server.supervisor import Supervisor
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace


def started_after_s(workspace: Workspace, job_id: str) -> float:
    job = job_store.get_job(workspace, job_id)
    line = next(line for line in job_store.read_log(workspace, job_id)
                if " started attempt " in line["text"])
    return (line["at"] - job["created_at"]).total_seconds()


def wait_all(workspace: Workspace, ids: list[str], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = [job_store.get_job(workspace, i) for i in ids]
        if all(job["status"] in job_store.FINISHED for job in jobs):
            failed = [job["error"] for job in jobs if job["status"] != "succeeded"]
            if failed:
                raise SystemExit(f"{len(failed)} jobs did not succeed: {failed[:2]}")
            return
        time.sleep(0.1)
    raise SystemExit(f"jobs still unfinished after {timeout_s} s")


def measure(workspace: Workspace, *, latency_jobs: int, batch: int) -> dict[str, float]:
    dataset = upload(workspace, EXAMPLES / "credit_g.csv")
    delays = []
    for _ in range(latency_jobs):
        job_id = submit(workspace, PredictJob(kind="predict", model="credit",
                                              dataset=dataset), EDITOR)["id"]
        wait_all(workspace, [job_id], timeout_s=300)
        delays.append(started_after_s(workspace, job_id))
    started = time.monotonic()
    ids = [submit(workspace, TrainJob(kind="train", dataset=dataset, target="class",
                                      algorithm="linear", trials=1, name=f"batch{i}"),
                  EDITOR)["id"] for i in range(batch)]
    wait_all(workspace, ids, timeout_s=1800)
    wall_s = time.monotonic() - started
    ordered = sorted(delays)
    return {"first_s": delays[0], "p50_s": statistics.median(delays),
            "p99_s": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
            "batch_wall_s": wall_s}


def fresh_workspace(name: str) -> Workspace:
    workspace = Workspace(Path(tempfile.mkdtemp(prefix=f"tfbench-{name}-")) / "home")
    tf.train(EXAMPLES / "credit_g.csv", target="class", name="credit", trials=1,
             algorithm="linear", workspace=workspace)
    return workspace


def run_local(args: argparse.Namespace) -> None:
    workspace = fresh_workspace("local")
    supervisor = Supervisor(workspace, workers=2, heartbeat_s=HEARTBEAT_S,
                            stale_after_s=STALE_AFTER_S)
    supervisor.start()
    try:
        time.sleep(3)  # the workers' interpreters start (a server's are up long before a job)
        show("local (2 worker processes)", measure(workspace, latency_jobs=args.latency_jobs,
                                                   batch=args.batch))
    finally:
        supervisor.stop(timeout_s=15)


def run_ray(args: argparse.Namespace) -> None:
    import ray
    from tests.server._ray import kill_node, ray_node
    from tests.server.test_ray_backend import holding_the_heads_cpu
    from tests.server.test_worker_resumes_network import epochs_logged, upload_digits

    from trainforge.server.ray_backend import RayDispatcher, connect

    workspace = fresh_workspace("ray")
    started = time.monotonic()
    with ray_node() as (address, _), ray_node(head=address) as (_, second):
        connect(address, workspace=workspace, timeout_s=30)
        while ray.cluster_resources().get("CPU") != 2:
            time.sleep(0.2)
        print(f"two one-CPU Ray nodes up and joined in {time.monotonic() - started:.1f} s")
        dispatcher = RayDispatcher(workspace, heartbeat_s=HEARTBEAT_S,
                                   stale_after_s=STALE_AFTER_S)
        dispatcher.start()
        try:
            show("ray (2 nodes x 1 CPU)", measure(workspace, latency_jobs=args.latency_jobs,
                                                  batch=args.batch))
            if args.kill:
                with holding_the_heads_cpu():
                    job_id = submit(workspace, TrainJob(
                        kind="train", dataset=upload_digits(workspace), algorithm="cnn",
                        trials=1, seed=3, name="digits"), EDITOR)["id"]
                    while len(epochs_logged(workspace, job_id)) < 3:
                        time.sleep(0.05)
                    time.sleep(half_an_epoch_s(workspace, job_id))  # mid-epoch: a fair loss
                    kill_node(second)
                    killed_at = time.time()
                    before = len(epochs_logged(workspace, job_id))
                wait_all(workspace, [job_id], timeout_s=600)
                show_lost_work(workspace, job_id, killed_at=killed_at, before=before)
        finally:
            dispatcher.stop(timeout_s=15)


def half_an_epoch_s(workspace: Workspace, job_id: str) -> float:
    from tests.server.test_worker_resumes_network import EPOCH

    ends = [line["at"].timestamp() for line in job_store.read_log(workspace, job_id)
            if EPOCH.match(line["text"])]
    return (ends[-1] - ends[-2]) / 2


def show_lost_work(workspace: Workspace, job_id: str, *, killed_at: float, before: int
                   ) -> None:
    from tests.server.test_worker_resumes_network import EPOCH

    epochs = [(int(m.group(1)), line["at"].timestamp())
              for line in job_store.read_log(workspace, job_id)
              if (m := EPOCH.match(line["text"]))]
    resumed_epoch, resumed_at = epochs[before]
    checkpoint_at = max(at for epoch, at in epochs[:before] if epoch == resumed_epoch - 1)
    print(f"node killed after epoch {epochs[before - 1][0]}; resumed at epoch {resumed_epoch}: "
          f"lost work {killed_at - checkpoint_at:.1f} s, first resumed epoch logged "
          f"{resumed_at - killed_at:.1f} s after the kill")


def show(name: str, figures: dict[str, float]) -> None:
    print(f"{name}: submit-to-start p50 {figures['p50_s'] * 1000:.0f} ms, p99 "
          f"{figures['p99_s'] * 1000:.0f} ms (first {figures['first_s'] * 1000:.0f} ms); "
          f"batch of jobs all finished in {figures['batch_wall_s']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["local", "ray"],
                        choices=["local", "ray"])
    parser.add_argument("--latency-jobs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--no-kill", dest="kill", action="store_false")
    args = parser.parse_args()
    if "local" in args.backends:
        run_local(args)
    if "ray" in args.backends:
        run_ray(args)


if __name__ == "__main__":
    main()
