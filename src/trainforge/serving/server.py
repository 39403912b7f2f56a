"""Run the prediction app with uvicorn: one worker, httptools and uvloop when installed."""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Sequence

import uvicorn

from trainforge.config import MAX_RECORDS
from trainforge.errors import ConfigError
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app
from trainforge.serving.recorder import PredictionRecorder


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_server(models: Sequence[LoadedModel], *, host: str = "127.0.0.1", port: int = 8000,
                 max_records: int = MAX_RECORDS,
                 recorder: PredictionRecorder | None = None) -> uvicorn.Server:
    """The uvicorn server for ``models``, each under its registry name; not started yet.
    A request holding more than ``max_records`` records is refused (413); ``recorder``
    (a ``PredictionLog``) records every answered prediction, started and closed with the app."""
    names = [loaded.name for loaded in models]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"model {twice[0]!r} is given twice; serve one version per name "
                          "(each is served at /v1/models/NAME/predict)")
    app = create_app({loaded.name: loaded for loaded in models}, max_records=max_records,
                     recorder=recorder)
    config = uvicorn.Config(app, host=host, port=port, workers=1, access_log=False,
                            http="httptools" if _installed("httptools") else "h11",
                            loop="uvloop" if _installed("uvloop") else "asyncio",
                            log_level="info")
    return uvicorn.Server(config)


def serve(models: Sequence[LoadedModel], *, host: str = "127.0.0.1", port: int = 8000,
          max_records: int = MAX_RECORDS, recorder: PredictionRecorder | None = None) -> None:
    """Serve ``models`` over HTTP until interrupted (Ctrl-C).

    Binds 127.0.0.1 unless told otherwise: exposing a model to the network is a decision.
    """
    server = build_server(models, host=host, port=port, max_records=max_records,
                          recorder=recorder)
    # the loaded models' objects live as long as the server: frozen, the cyclic collector's
    # full passes skip them, instead of holding the interpreter ~100 ms (and /health with it)
    # when a big request allocates
    gc.collect()
    gc.freeze()
    server.run()
