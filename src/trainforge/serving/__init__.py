"""Serving: the prediction app (REST, MLflow scoring format, metrics) and batch prediction."""

from __future__ import annotations

from trainforge.serving.app import create_app
from trainforge.serving.batch import BatchResult, predict_file
from trainforge.serving.server import serve

__all__ = ["BatchResult", "create_app", "predict_file", "serve"]
