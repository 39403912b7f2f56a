"""Run the prediction app with uvicorn: one worker, httptools and uvloop when installed."""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from trainforge.config import MAX_RECORDS
from trainforge.errors import ConfigError
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app
from trainforge.serving.metrics import ServingMetrics
from trainforge.serving.recorder import PredictionRecorder
from trainforge.serving.usage import UsageFlusher
from trainforge.store.handle import StoreHandle


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_server(models: Sequence[LoadedModel], *, host: str = "127.0.0.1", port: int = 8000,
                 max_records: int = MAX_RECORDS, recorder: PredictionRecorder | None = None,
                 usage: StoreHandle | None = None) -> uvicorn.Server:
    """The uvicorn server for ``models``, each under its registry name; not started yet.
    A request holding more than ``max_records`` records is refused (413); ``recorder``
    (a ``PredictionLog``) records every answered prediction, started and closed with the app;
    ``usage``: the store this process writes what serving each model used to, while it runs."""
    names = [loaded.name for loaded in models]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"model {twice[0]!r} is given twice; serve one version per name "
                          "(each is served at /v1/models/NAME/predict)")
    app = create_app({loaded.name: loaded for loaded in models}, max_records=max_records,
                     recorder=recorder)
    if usage is not None:
        _flush_usage_while_serving(app, usage, {loaded.name: loaded.ref for loaded in models})
    config = uvicorn.Config(app, host=host, port=port, workers=1, access_log=False,
                            http="httptools" if _installed("httptools") else "h11",
                            loop="uvloop" if _installed("uvloop") else "asyncio",
                            log_level="info")
    return uvicorn.Server(config)


def _flush_usage_while_serving(app: FastAPI, store: StoreHandle, served: dict[str, str]
                               ) -> None:
    """Write the app's usage to ``store`` from its startup to its shutdown (around whatever
    lifespan the app has)."""
    # every handler create_app makes shares one ServingMetrics, and /invocations is always
    # routed: its handler's is the app's
    metrics = next(found for route in app.router.routes
                   if isinstance(found := getattr(getattr(route, "app", None), "metrics", None),
                                 ServingMetrics))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        flusher = UsageFlusher(store, metrics, served=lambda: served)
        flusher.start()
        try:
            async with inner(application) as state:
                yield state
        finally:
            flusher.stop()

    app.router.lifespan_context = lifespan


def serve(models: Sequence[LoadedModel], *, host: str = "127.0.0.1", port: int = 8000,
          max_records: int = MAX_RECORDS, recorder: PredictionRecorder | None = None,
          usage: StoreHandle | None = None) -> None:
    """Serve ``models`` over HTTP until interrupted (Ctrl-C); ``recorder`` logs every answered
    prediction; with ``usage``, what serving them used is written to that store (every 30 s
    and at the end).

    Binds 127.0.0.1 unless told otherwise: exposing a model to the network is a decision.
    """
    server = build_server(models, host=host, port=port, max_records=max_records,
                          recorder=recorder, usage=usage)
    # the loaded models' objects live as long as the server: frozen, the cyclic collector's
    # full passes skip them, instead of holding the interpreter ~100 ms (and /health with it)
    # when a big request allocates
    gc.collect()
    gc.freeze()
    server.run()
