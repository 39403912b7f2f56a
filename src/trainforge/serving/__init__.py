"""Serving: the prediction app (REST, MLflow scoring format, metrics) and batch prediction."""

from __future__ import annotations

from trainforge.serving.app import create_app
from trainforge.serving.batch import BatchResult, predict_file
from trainforge.serving.server import build_server, serve

__all__ = ["BatchResult", "build_server", "create_app", "predict_file", "serve"]
