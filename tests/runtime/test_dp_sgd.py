"""DP-SGD in the PyTorch loop: per-row clipping, calibrated noise, the ε spent, and resumes."""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from trainforge.errors import (
    ConfigError,
    LayerNotPrivate,
    PrivacyBudgetTooSmall,
    PrivacyDeltaTooLarge,
)
from trainforge.runtime.loop import FitHistory, LoopConfig, TensorData, Trainer

pytest.importorskip("opacus")
pytestmark = pytest.mark.slow  # each private fit takes a second or more
torch.set_num_threads(1)


def _blobs(rows: int, *, seed: int) -> TensorData:
    """Two Gaussian blobs 4 standard deviations apart."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (rows,), generator=g)
    points = torch.randn(rows, 2, generator=g) + 2.0 * (labels.float() * 2 - 1).unsqueeze(1)
    return TensorData(inputs=(points,), targets=labels)


TRAIN, VALID = _blobs(400, seed=1), _blobs(100, seed=2)
PRIVATE = LoopConfig(max_epochs=6, batch_size=40, device="cpu", learning_rate=0.05,
                     schedule="constant", patience=20, dp_epsilon=4.0)


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


def _fit(module: nn.Module, config: LoopConfig = PRIVATE, **options: object) -> FitHistory:
    trainer = Trainer(module, config, architecture={"architecture": "mlp"},
                      **options)  # type: ignore[arg-type]
    return trainer.fit(TRAIN, VALID)


def _weights(module: nn.Module) -> torch.Tensor:
    return torch.cat([t.flatten() for t in module.state_dict().values()])


def _accuracy(module: nn.Module) -> float:
    with torch.no_grad():
        return float((module(VALID.inputs[0]).argmax(1) == VALID.targets).float().mean())


@pytest.fixture(scope="module")
def private() -> tuple[nn.Module, FitHistory]:
    """One private fit that several tests read (each costs seconds on a busy machine)."""
    net = _net()
    return net, _fit(net)


def test_a_private_fit_spends_at_most_its_epsilon_and_records_it_each_epoch(
        private: tuple[nn.Module, FitHistory]):
    history = private[1]
    spent = [e.epsilon for e in history.epochs]
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(spent))
    assert history.privacy is not None
    assert spent[-1] == history.privacy["epsilon"] <= 4.0


def test_the_record_carries_the_budget_clipping_noise_rate_and_epochs(
        private: tuple[nn.Module, FitHistory]):
    privacy = private[1].privacy
    assert privacy is not None
    assert (privacy["target_epsilon"], privacy["delta"], privacy["max_grad_norm"],
            privacy["sample_rate"], privacy["epochs"], privacy["steps"]) == \
        (4.0, 1e-5, 1.0, 0.1, 6, 60)
    assert 0.3 < privacy["noise_multiplier"] < 5.0


def test_a_private_fit_still_learns_a_separable_problem(private: tuple[nn.Module, FitHistory]):
    assert _accuracy(private[0]) > 0.9


def test_the_noise_changes_the_model(private: tuple[nn.Module, FitHistory]):
    plain = _net()
    _fit(plain, LoopConfig(**{**PRIVATE.to_dict(), "dp_epsilon": None}))
    assert not torch.allclose(_weights(private[0]), _weights(plain), atol=1e-3)


def test_the_noise_is_secret_two_private_fits_with_one_seed_differ(
        private: tuple[nn.Module, FitHistory]):
    second = _net()
    _fit(second)
    assert not torch.equal(_weights(private[0]), _weights(second))


def test_batch_norm_is_refused_naming_the_layer_and_what_to_use():
    net = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(LayerNotPrivate, match=r"1 \(BatchNorm1d\).*for images cnn"):
        _fit(net)


def test_an_epsilon_too_small_is_refused_before_the_first_epoch():
    epochs: list[object] = []

    class Listen:
        def on_epoch_end(self, state: object) -> None:
            epochs.append(state)

    config = LoopConfig(**{**PRIVATE.to_dict(), "dp_epsilon": 0.001})
    with pytest.raises(PrivacyBudgetTooSmall, match=r"smallest usable ε here is about"):
        _fit(_net(), config, callbacks=[Listen()])
    assert epochs == []


def test_a_delta_of_one_over_n_or_more_is_refused():
    config = LoopConfig(**{**PRIVATE.to_dict(), "dp_delta": 0.01})  # 1/n = 0.0025
    with pytest.raises(PrivacyDeltaTooLarge, match=r"0\.01 is not below 1/n"):
        _fit(_net(), config)


@pytest.mark.parametrize(("field", "value"), [("dp_epsilon", 0.0), ("dp_epsilon", -1.0),
                                              ("dp_delta", 1.0), ("dp_delta", 0.0),
                                              ("dp_max_grad_norm", 0.0)])
def test_a_budget_out_of_range_is_refused_naming_the_setting(field: str, value: float):
    with pytest.raises(ConfigError, match=field):
        LoopConfig(**{**PRIVATE.to_dict(), field: value})


def test_the_model_is_free_of_the_per_row_hooks_after_a_private_fit(
        private: tuple[nn.Module, FitHistory]):
    net = private[0]
    assert not any(hasattr(p, "grad_sample") for p in net.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks for m in net.modules())


class _CtrlCAtStep:
    def __init__(self, step: int) -> None:
        self.step, self.calls = step, 0

    def __call__(self, inputs: tuple[torch.Tensor, ...],
                 g: torch.Generator) -> tuple[torch.Tensor, ...]:
        self.calls += 1
        if self.calls == self.step:
            signal.raise_signal(signal.SIGINT)
        return inputs


def test_a_resumed_private_fit_counts_every_step_once(tmp_path: Path):
    with pytest.raises(KeyboardInterrupt):
        _fit(_net(), augment=_CtrlCAtStep(25), checkpoint_dir=tmp_path)
    saved = json.loads((tmp_path / "checkpoint.json").read_text())
    assert sum(n for _, _, n in saved["privacy"]) == 25
    history = _fit(_net(seed=9), checkpoint_dir=tmp_path)
    assert history.resumed_at_step == 25
    assert history.privacy is not None and history.privacy["steps"] == 60
    assert history.privacy["epsilon"] <= 4.0


def test_a_plain_checkpoint_is_not_resumed_as_a_private_fit(tmp_path: Path):
    plain = LoopConfig(**{**PRIVATE.to_dict(), "dp_epsilon": None})
    with pytest.raises(KeyboardInterrupt):
        _fit(_net(), plain, augment=_CtrlCAtStep(5), checkpoint_dir=tmp_path)
    with pytest.raises(Exception, match="dp_epsilon"):
        _fit(_net(), checkpoint_dir=tmp_path)
