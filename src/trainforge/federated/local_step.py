"""What a client does with the global weights each round: a few epochs of minibatch SGD on
its own rows, with FedProx's proximal term when the strategy asks for one. One step for every
model the federation learns (``federated.networks``): the linear model, the MLP and the CNN
are all PyTorch modules here.

FedProx (Li et al., 2020) adds (mu / 2) * ||w - w_global||^2 to each client's loss, so a
client whose data differ much cannot pull its update far from the global model; mu = 0 is
FedAvg's plain local training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from trainforge.federated.linear import Weights
from trainforge.federated.networks import load_weights, weights_of

EVAL_CHUNK = 1_024  # rows per forward pass when scoring held-out rows


@dataclass(frozen=True)
class LocalResult:
    weights: Weights
    train_loss: float  # the mean loss over the last local epoch, proximal term left out
    n_rows: int


def loss_function(*, classification: bool) -> Callable[[torch.Tensor, torch.Tensor],
                                                       torch.Tensor]:
    """Cross-entropy over class codes, or the MSE of the scaled target."""
    if classification:
        return nn.functional.cross_entropy
    return lambda outputs, targets: nn.functional.mse_loss(outputs[:, 0], targets)


def train_locally(module: nn.Module, weights: Weights, inputs: torch.Tensor,
                  targets: torch.Tensor, *, classification: bool, epochs: int, batch_size: int,
                  learning_rate: float, proximal_mu: float, seed: int) -> LocalResult:
    """Start ``module`` from ``weights`` and return the client's update after ``epochs``
    passes over (inputs, targets)."""
    generator = torch.Generator().manual_seed(seed)
    load_weights(module, weights).train()
    start = [parameter.detach().clone() for parameter in module.parameters()]
    optimizer = torch.optim.SGD(module.parameters(), lr=learning_rate)
    loss_of = loss_function(classification=classification)
    epoch_loss = float("nan")
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for first in range(0, len(inputs), batch_size):
            batch = order[first:first + batch_size]
            loss = loss_of(module(inputs[batch]), targets[batch])
            total += float(loss.detach()) * len(batch)
            if proximal_mu > 0:
                drift = sum(((p - p0) ** 2).sum() for p, p0 in zip(module.parameters(), start,
                                                                    strict=True))
                loss = loss + proximal_mu / 2 * drift
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        epoch_loss = total / max(len(inputs), 1)
    return LocalResult(weights=weights_of(module), train_loss=epoch_loss, n_rows=len(inputs))


def held_out_loss(module: nn.Module, weights: Weights, inputs: torch.Tensor,
                  targets: torch.Tensor, *, classification: bool) -> float:
    """The training objective of ``weights`` on rows they were not trained on."""
    load_weights(module, weights).eval()
    loss_of = loss_function(classification=classification)
    total = 0.0
    with torch.inference_mode():
        for first in range(0, len(inputs), EVAL_CHUNK):
            chunk = slice(first, first + EVAL_CHUNK)
            total += float(loss_of(module(inputs[chunk]), targets[chunk])) * len(inputs[chunk])
    return total / max(len(inputs), 1)
