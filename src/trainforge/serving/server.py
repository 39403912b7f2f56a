"""Run the prediction app with uvicorn: one worker, httptools and uvloop when installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from trainforge.registry.loaded import LoadedModel
from trainforge.serving.app import create_app


def _fastest(choices: Sequence[tuple[str, str]], default: str) -> str:
    for module, name in choices:
        if importlib.util.find_spec(module) is not None:
            return name
    return default


def serve(models: Sequence[LoadedModel], *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``models`` over HTTP until interrupted; each under its registry name.

    Binds 127.0.0.1 unless told otherwise: exposing a model to the network is a decision.
    """
    import uvicorn

    app = create_app({loaded.name: loaded for loaded in models})
    uvicorn.run(app, host=host, port=port, workers=1, access_log=False,
                http=_fastest([("httptools", "httptools")], "h11"),
                loop=_fastest([("uvloop", "uvloop")], "asyncio"),
                log_level="info")
