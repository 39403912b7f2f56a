"""What a client does with the global weights each round: a few epochs of minibatch SGD on
its own rows, with FedProx's proximal term when the strategy asks for one.

FedProx (Li et al., 2020) adds (mu / 2) * ||w - w_global||^2 to each client's loss, so a
client whose data differ much cannot pull its update far from the global model; mu = 0 is
FedAvg's plain local training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainforge.federated.linear import Weights


@dataclass(frozen=True)
class LocalResult:
    weights: Weights
    train_loss: float  # the mean loss over the last local epoch, proximal term left out
    n_rows: int


def train_locally(weights: Weights, inputs: np.ndarray, targets: np.ndarray, *,
                  classification: bool, epochs: int, batch_size: int, learning_rate: float,
                  proximal_mu: float, seed: int) -> LocalResult:
    """Start from ``weights`` and return the client's update after ``epochs`` passes."""
    generator = torch.Generator().manual_seed(seed)
    start = [torch.as_tensor(np.asarray(w, dtype=np.float32)) for w in weights]
    matrix, bias = (w.clone().requires_grad_(True) for w in start)
    optimizer = torch.optim.SGD([matrix, bias], lr=learning_rate)
    x = torch.as_tensor(inputs, dtype=torch.float32)
    y = torch.as_tensor(targets)
    loss_of = (torch.nn.functional.cross_entropy if classification
               else lambda out, t: torch.nn.functional.mse_loss(out[:, 0], t))
    epoch_loss = float("nan")
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for first in range(0, len(x), batch_size):
            batch = order[first:first + batch_size]
            loss = loss_of(x[batch] @ matrix.T + bias, y[batch])
            total += float(loss.detach()) * len(batch)
            if proximal_mu > 0:
                drift = ((matrix - start[0]) ** 2).sum() + ((bias - start[1]) ** 2).sum()
                loss = loss + proximal_mu / 2 * drift
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        epoch_loss = total / max(len(x), 1)
    return LocalResult(weights=[matrix.detach().numpy(), bias.detach().numpy()],
                       train_loss=epoch_loss, n_rows=len(x))
