"""Wrong-password storms against `POST /login`: does the API stay responsive? (issue #10)

A fresh workspace with one user (``ana``) and a viewer token; the platform app served by
uvicorn in its own process on 127.0.0.1 (no job workers). Each round, 40 clients post a wrong
password for ``ana`` at once, while one more client calls ``GET /api/v1/me`` with the token
every 10 ms; the round ends when every login answered. Reported per round: how the logins were
answered, how long the storm took, and the latency (p50, max) of the concurrent API calls,
next to the same call's latency with no storm. Each round uses a fresh server and workspace
(a rate limit from one round must not decide the next), and the server is stopped at the end.

    PYTHONPATH=src .venv/bin/python benchmarks/security/bench_login.py --rounds 3
    PYTHONPATH=src .venv/bin/python benchmarks/security/bench_login.py --rounds 3 --unlimited
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from trainforge.store import access
from trainforge.workspace import Workspace

SERVE = ("import sys, uvicorn; from trainforge.server.app import create_server_app; "
         "from trainforge.workspace import Workspace; "
         "app = create_server_app(Workspace(sys.argv[1])); "
         "exec(sys.argv[3]); "
         "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')")
# --unlimited: every wrong password is checked, to time the checks themselves (needs the
# rate limit, i.e. the code after the fix)
UNLIMITED = ("from trainforge.server.login_limits import LoginThrottle; "
             "app.state.logins = LoginThrottle(per_user=10**6, per_address=10**6)")
PASSWORD = "correct horse battery staple"
PROBE_EVERY_S = 0.01


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/docs", timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def probe(url: str, token: str, stop: threading.Event) -> list[float]:
    """``GET /api/v1/me`` every PROBE_EVERY_S until ``stop``; each round trip in seconds."""
    took = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/api/v1/me").raise_for_status()
            took.append(time.perf_counter() - started)
            stop.wait(PROBE_EVERY_S)
    return took


async def storm(url: str, n_logins: int) -> tuple[collections.Counter[int], float]:
    """``n_logins`` wrong-password logins at once; their status codes and the wall time."""
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=n_logins + 5)) as client:
        form = await client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None, "the login page has no login_token field"
        cookie = form.cookies.get("trainforge_login")
        data = {"username": "ana", "password": "not the password", "login_token": token.group(1)}

        async def one() -> int:
            answer = await client.post("/login", data=data, follow_redirects=False,
                                       headers={"Cookie": f"trainforge_login={cookie}"})
            return answer.status_code

        started = time.perf_counter()
        codes = await asyncio.gather(*(one() for _ in range(n_logins)))
        return collections.Counter(codes), time.perf_counter() - started


def ms(samples_s: list[float]) -> dict[str, float]:
    values = sorted(s * 1000 for s in samples_s)
    return {"n": len(values), "p50_ms": round(statistics.median(values), 2),
            "max_ms": round(values[-1], 2)}


def one_round(n_logins: int, *, unlimited: bool) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="bench-login-"))
    workspace = Workspace(home)
    access.create_user(workspace, username="ana", password=PASSWORD, role="viewer")
    token, _ = access.create_token(workspace, name="bench", role="viewer")
    workspace.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(home), str(port),
                               UNLIMITED if unlimited else "pass"],
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        wait_until_up(url)
        quiet_stop = threading.Event()
        threading.Timer(1.0, quiet_stop.set).start()
        quiet = probe(url, token, quiet_stop)
        stop = threading.Event()
        during: list[float] = []
        prober = threading.Thread(target=lambda: during.extend(probe(url, token, stop)))
        prober.start()
        time.sleep(0.1)  # the prober is calling before the storm starts
        codes, storm_s = asyncio.run(storm(url, n_logins))
        stop.set()
        prober.join(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)
    return {"login_answers": dict(sorted(codes.items())), "storm_s": round(storm_s, 3),
            "me_quiet": ms(quiet), "me_during_storm": ms(during)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--logins", type=int, default=40, help="wrong passwords at once")
    parser.add_argument("--unlimited", action="store_true",
                        help="lift the login rate limit: every wrong password is checked")
    args = parser.parse_args()
    rounds = [one_round(args.logins, unlimited=args.unlimited) for _ in range(args.rounds)]
    summary = {key: statistics.median(r[part][key] for r in rounds)
               for part, key in (("me_during_storm", "p50_ms"), ("me_during_storm", "max_ms"))}
    print(json.dumps({"logins": args.logins, "unlimited": args.unlimited, "cpus": os.cpu_count(),
                      "load_average_1m": round(os.getloadavg()[0], 2), "rounds": rounds,
                      "median_of_rounds": {"me_during_storm_p50_ms": summary["p50_ms"],
                                           "me_during_storm_max_ms": summary["max_ms"],
                                           "storm_s": statistics.median(r["storm_s"]
                                                                        for r in rounds)}},
                     indent=2))


if __name__ == "__main__":
    main()
