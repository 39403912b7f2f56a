"""The copies of one fit that train together, data-parallel: what the loop asks of them.

One process (``Replicas()``, the default) is the loop as it always was: every method is the
identity. With ``world_size`` > 1 (a ``torch.distributed`` process group already set up, as Ray
Train does) each replica takes its share of every batch, DDP averages the gradients, and the
decisions that must be the same everywhere (stop now, the monitored score, the epochs the
deadline leaves) are the leader's (rank 0), sent to the others: replicas that disagreed would
wait for each other forever in the next all-reduce.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Replicas:
    """This process's place among the replicas of a fit."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_leader(self) -> bool:
        """Rank 0 keeps the checkpoints and sends the events."""
        return self.rank == 0

    def wrap(self, module: nn.Module, *, device: torch.device) -> nn.Module:
        """The module to train through: DDP all-reduces its gradients in backward."""
        if self.world_size == 1:
            return module
        return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda"
                                       else None)

    def share(self, rows: torch.Tensor) -> torch.Tensor:
        """This replica's rows of a batch: every world_size-th, so a batch of the same size
        as one process's is split (same steps, same schedule, same effective batch)."""
        return rows if self.world_size == 1 else rows[self.rank::self.world_size]

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` summed over the replicas (a copy; the argument is left as it is)."""
        if self.world_size == 1:
            return value
        summed = value.detach().clone()
        dist.all_reduce(summed)
        return summed

    def leaders(self, value: float) -> float:
        """The leader's ``value``, on every replica."""
        if self.world_size == 1:
            return value
        sent = torch.tensor([value], dtype=torch.float64,
                            device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.broadcast(sent, src=0)
        return float(sent.item())

    def agree(self, flag: bool) -> bool:
        """The leader's ``flag``, on every replica."""
        return bool(self.leaders(float(flag)))
