"""The training rules, live in the loop: a broken run warns (or stops), a healthy one is quiet."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainforge.errors import StoppedByRule
from trainforge.runtime.loop import LoopConfig, TensorData, Trainer
from trainforge.runtime.rule_watch import RuleWatch
from trainforge.runtime.rules import Finding

torch.set_num_threads(1)


def _blobs(rows: int, *, seed: int, scale: float = 1.0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (rows,), generator=g)
    # overlapping blobs: the loss cannot reach 0, so a broken run shows as one
    points = torch.randn(rows, 4, generator=g) + 0.5 * (labels.float() * 2 - 1).unsqueeze(1)
    return TensorData(inputs=(points * scale,), targets=labels)


TRAIN, VALID = _blobs(320, seed=1), _blobs(80, seed=2)


def _fit(watch: RuleWatch, *, learning_rate: float, train: TensorData = TRAIN,
         valid: TensorData = VALID) -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    config = LoopConfig(max_epochs=6, batch_size=32, device="cpu", learning_rate=learning_rate,
                        schedule="constant", clip_grad_norm=None, patience=20)
    Trainer(module, config, callbacks=[watch]).fit(train, valid)


def _findings(**options: object) -> list[Finding]:
    heard: list[Finding] = []
    _fit(RuleWatch(mode="warn", report=heard.append, every_steps=5), **options)  # type: ignore[arg-type]
    return heard


def test_a_healthy_tiny_run_has_no_finding():
    assert _findings(learning_rate=0.01) == []


def test_a_learning_rate_of_ten_warns_that_the_run_diverged():
    assert "loss_diverged" in {f.rule for f in _findings(learning_rate=10.0)}


def test_a_learning_rate_of_1e_8_warns_that_it_is_too_low():
    assert {f.rule for f in _findings(learning_rate=1e-8)} >= {"learning_rate_too_low"}


def test_an_unnormalised_input_warns_of_exploding_gradients():
    rules = {f.rule for f in _findings(learning_rate=0.01, train=_blobs(320, seed=1, scale=1e4),
                                       valid=_blobs(80, seed=2, scale=1e4))}
    assert "exploding_gradients" in rules


def _batchnorm_findings(*, learning_rate: float) -> list[Finding]:
    """Like the product's ResNet: BatchNorm, the loop's default clip and onecycle, 30 steps."""
    heard: list[Finding] = []
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))
    config = LoopConfig(max_epochs=3, batch_size=32, device="cpu", learning_rate=learning_rate,
                        schedule="onecycle", patience=20)
    Trainer(module, config, callbacks=[RuleWatch(mode="warn", report=heard.append)]).fit(
        TRAIN, VALID)
    return heard


def test_a_learning_rate_of_ten_under_batchnorm_and_clipping_warns_in_thirty_steps():
    rules = {f.rule for f in _batchnorm_findings(learning_rate=10.0)}
    assert rules >= {"learning_rate_too_high", "loss_diverged"}


def test_a_healthy_short_batchnorm_run_has_no_finding():
    assert _batchnorm_findings(learning_rate=0.01) == []


def test_a_short_run_is_watched_twice_an_epoch():
    watch = RuleWatch(mode="warn", report=lambda finding: None)  # every 10 steps at most
    _fit(watch, learning_rate=0.01)  # 10 steps an epoch
    assert [s.step for s in watch.steps][:5] == [1, 5, 10, 15, 20]


def test_each_rule_fires_once_per_fit():
    rules = [f.rule for f in _findings(learning_rate=10.0)]
    assert len(rules) == len(set(rules))


def test_rules_stop_ends_the_fit_with_the_finding_as_the_reason():
    watch = RuleWatch(mode="stop", report=lambda finding: None, every_steps=5)
    with pytest.raises(StoppedByRule, match=r"stopped by rule loss_diverged .*--rules warn"):
        _fit(watch, learning_rate=10.0)
