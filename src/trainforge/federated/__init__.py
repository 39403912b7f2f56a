"""Federated learning on Flower: the data stays with its holders, model updates travel.

Flower lives in a virtualenv of its own (its pins clash with the platform's FastAPI and Typer):
trainforge starts its coordinator and clients from there as processes talking Flower's gRPC,
and the ``flower_*`` modules are the only ones that import flwr. Everything else here (the
partitioner, the declared encoding, the local training step, the model the federation learns)
is plain trainforge code that both environments import.
"""
