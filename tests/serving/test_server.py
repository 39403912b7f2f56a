"""The real server: uvicorn on 127.0.0.1 answering over a socket."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from trainforge.errors import ConfigError
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.server import build_server


def test_the_server_answers_predictions_over_loopback(classifier: LoadedModel, one_record):
    server = build_server([classifier], port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        response = httpx.post(f"http://{host}:{port}/v1/models/adult/predict",
                              json={"records": [one_record]}, timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert host == "127.0.0.1"
    assert response.status_code == 200 and response.json()["model"] == "adult:1"


def test_two_models_with_one_name_are_refused(classifier: LoadedModel):
    with pytest.raises(ConfigError, match="'adult' is given twice"):
        build_server([classifier, classifier])
