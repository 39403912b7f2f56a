"""DP-SGD (Abadi et al., 2016) for the PyTorch loop, on Opacus's parts.

What a private fit changes, step by step: each batch is a Poisson sample (every training row
joins with probability ``sample_rate``, as Opacus's ``UniformWithReplacementSampler`` draws it);
every row's gradient is computed alone (Opacus's ``GradSampleModule``) and clipped to
``max_grad_norm``; Gaussian noise of ``noise_multiplier × max_grad_norm`` is added to their sum
(Opacus's ``DPOptimizer``); and the ledger (``privacy_budget``) counts the step. The noise is
calibrated before the first step so that the planned epochs spend at most (ε, δ).

The loop keeps its own batches, checkpoints and schedule, which is why this uses Opacus's parts
rather than ``PrivacyEngine.make_private_with_epsilon`` (built around a ``DataLoader``): the
rows are sampled and the noise drawn from generators whose state a checkpoint keeps, so a
resumed fit continues the same steps and its ledger counts each step once. Those generators
start from a secret seed, never from ``--seed``: noise or batches that a reader of the run's
settings could recompute would protect nothing.
"""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer
from opacus.utils.module_utils import trainable_modules
from opacus.validators import ModuleValidator
from torch import nn

from trainforge.errors import LayerNotPrivate
from trainforge.runtime.privacy_budget import NoisePlan, PrivacyLedger

DEFAULT_MAX_GRAD_NORM = 1.0  # Opacus's examples' bound; gradients past it are scaled down


def check_layers(module: nn.Module, *, network: str, hint: str) -> None:
    """Refuse a module holding layers Opacus cannot give per-row gradients (BatchNorm, nn.GRU,
    nn.LSTM, nn.MultiheadAttention), naming them and what to use instead."""
    layers = [f"{name} ({type(layer).__name__})" for name, layer in trainable_modules(module)
              if type(layer) in ModuleValidator.VALIDATORS
              and ModuleValidator.VALIDATORS[type(layer)](layer)]
    if layers:
        raise LayerNotPrivate(network, layers, hint)


class PrivateSteps:
    """The DP parts of one fit: the per-row gradient wrapper, the noisy optimiser, the Poisson
    sampler and the ledger; made by ``Trainer`` when its config asks for (ε, δ)."""

    def __init__(self, plan: NoisePlan, *, max_grad_norm: float, batch_size: int,
                 ledger: PrivacyLedger | None = None) -> None:
        self.plan, self.max_grad_norm, self.batch_size = plan, max_grad_norm, batch_size
        self.ledger = ledger or PrivacyLedger()
        self.noise_generator = torch.Generator()
        self.noise_generator.manual_seed(secrets.randbits(62))  # see the docstring

    def wrap_module(self, module: nn.Module) -> nn.Module:
        """What the training steps run through: ``module`` with per-row gradient hooks (its own
        state dict and weights stay as they are, so checkpoints and packages do not change)."""
        # its hooks on the first layer warn that the input needs no gradient: as it should
        warnings.filterwarnings("ignore", message="Full backward hook is firing",
                                category=UserWarning)
        wrapped: nn.Module = GradSampleModule(module, batch_first=True, loss_reduction="mean")
        return wrapped

    def unwrap(self, wrapped: nn.Module) -> None:
        """Take the per-row hooks and their attributes off the module ``wrap_module`` wrapped:
        predicting needs none of them."""
        if isinstance(wrapped, GradSampleModule):
            wrapped.cleanup()

    def wrap_optimizer(self, optimizer: torch.optim.Optimizer) -> DPOptimizer:
        """``optimizer`` behind per-row clipping and the calibrated noise; its learning rates
        (the schedule's) and its state dict are the wrapped one's."""
        return DPOptimizer(optimizer, noise_multiplier=self.plan.noise_multiplier,
                           max_grad_norm=self.max_grad_norm,
                           expected_batch_size=self.batch_size, loss_reduction="mean",
                           generator=self.noise_generator)

    def sample_rows(self, n_rows: int, generator: torch.Generator) -> torch.Tensor:
        """One Poisson batch: each row joins with probability ``sample_rate``."""
        chosen = torch.rand(n_rows, generator=generator) < self.plan.sample_rate
        return chosen.nonzero().reshape(-1)

    def noise_only(self, parameters: Sequence[nn.Parameter]) -> None:
        """An empty Poisson batch still takes its noisy step, as Opacus's does: every
        parameter gets no row's gradient, so the optimiser adds only noise."""
        for p in parameters:
            p.grad_sample = torch.zeros(  # type: ignore[attr-defined]  # Opacus's attribute
                (0, *p.shape), dtype=p.dtype, device=p.device)

    def count_step(self) -> None:
        self.ledger.step(noise_multiplier=self.plan.noise_multiplier,
                         sample_rate=self.plan.sample_rate)

    def epsilon(self) -> float:
        return self.ledger.epsilon(self.plan.delta)

    def summary(self) -> dict[str, Any]:
        """What the manifest, the report and the model card show of a finished private fit."""
        spent = self.epsilon()
        return {"epsilon": spent if math.isfinite(spent) else None,
                "target_epsilon": self.plan.epsilon, "delta": self.plan.delta,
                "max_grad_norm": self.max_grad_norm,
                "noise_multiplier": self.plan.noise_multiplier,
                "sample_rate": self.plan.sample_rate, "steps": self.ledger.steps,
                "planned_steps": self.plan.steps, "accountant": "rdp (Opacus)"}

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"rng/noise": self.noise_generator.get_state()}

    def load_state(self, tensors: dict[str, torch.Tensor], ledger: list[Any]) -> None:
        self.ledger = PrivacyLedger(ledger)
        if "rng/noise" in tensors:
            self.noise_generator.set_state(tensors["rng/noise"])
