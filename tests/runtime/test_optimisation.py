"""Losses, optimisers and schedules do what their names promise."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from trainforge.errors import ConfigError
from trainforge.runtime.optimisation import Schedule, make_loss, make_optimizer

torch.set_num_threads(1)


def _rates(kind: str, *, total_steps: int, warmup_fraction: float = 0.1) -> list[float]:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.5)
    schedule = Schedule(optimizer, kind, total_steps=total_steps, warmup_fraction=warmup_fraction)
    rates = []
    for _ in range(total_steps):
        rates.append(schedule.learning_rate)
        schedule.after_step()
    return rates


def test_cosine_warms_up_linearly_to_the_base_rate():
    rates = _rates("cosine", total_steps=100, warmup_fraction=0.1)
    assert rates[:10] == pytest.approx([0.5 * (i + 1) / 11 for i in range(10)])
    assert rates[10] == pytest.approx(0.5)


def test_cosine_decays_to_about_zero_at_the_last_step():
    rates = _rates("cosine", total_steps=100, warmup_fraction=0.1)
    assert rates[-1] < 1e-3
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))


def test_onecycle_starts_low_peaks_at_thirty_percent_and_ends_near_zero():
    rates = _rates("onecycle", total_steps=100)
    assert rates[0] == pytest.approx(0.5 / 25)
    assert max(rates) == pytest.approx(0.5)
    assert rates.index(max(rates)) == 30
    assert rates[-1] < 1e-3


def test_constant_keeps_the_base_rate():
    assert set(_rates("constant", total_steps=20)) == {0.5}


def test_plateau_halves_the_rate_after_patience_epochs_without_improvement():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.4)
    schedule = Schedule(optimizer, "plateau", total_steps=10, plateau_patience=2)
    for val_loss in (1.0, 0.9, 0.95, 0.92):
        schedule.after_epoch(val_loss)
    assert schedule.learning_rate == pytest.approx(0.2)


def test_a_reloaded_schedule_continues_with_the_same_rates():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.5)
    first = Schedule(optimizer, "cosine", total_steps=50)
    for _ in range(17):
        first.after_step()
    second = Schedule(torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.5), "cosine",
                      total_steps=50)
    second.load_state_dict(first.state_dict())
    first.after_step()
    second.after_step()
    assert second.learning_rate == first.learning_rate


def test_weight_decay_shrinks_weight_matrices_but_not_biases_or_norm_weights():
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    optimizer = make_optimizer("adamw", net.parameters(), learning_rate=0.1, weight_decay=0.5)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only the decay can move a parameter
    optimizer.step()
    changed = {k for k, v in net.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"0.weight"}


def test_sgd_uses_nesterov_momentum():
    optimizer = make_optimizer("sgd", [nn.Parameter(torch.ones(2, 2))], learning_rate=0.1,
                               momentum=0.8, nesterov=True)
    assert (optimizer.param_groups[0]["momentum"], optimizer.param_groups[0]["nesterov"]) == (
        0.8, True)


def test_an_optimizer_without_trainable_parameters_is_refused():
    frozen = nn.Parameter(torch.ones(2), requires_grad=False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        make_optimizer("adam", [frozen], learning_rate=1e-3)


def test_bce_accepts_one_column_outputs():
    logits, targets = torch.tensor([[2.0], [-1.0], [0.5]]), torch.tensor([1.0, 0.0, 0.0])
    expected = nn.functional.binary_cross_entropy_with_logits(logits.flatten(), targets)
    assert make_loss("bce")(logits, targets) == pytest.approx(float(expected))


def test_label_smoothing_raises_the_loss_of_confident_correct_logits():
    logits, targets = torch.tensor([[8.0, -8.0], [-8.0, 8.0]]), torch.tensor([0, 1])
    assert make_loss("cross_entropy", label_smoothing=0.2)(logits, targets) > 10 * make_loss(
        "cross_entropy")(logits, targets)


def test_huber_is_half_the_squared_error_when_small_and_linear_when_large():
    targets = torch.zeros(2)
    assert float(make_loss("huber")(torch.tensor([0.5, 0.5]), targets)) == pytest.approx(0.125)
    assert float(make_loss("huber")(torch.tensor([3.0, 3.0]), targets)) == pytest.approx(2.5)


def test_mse_compares_float16_outputs_in_float32():
    outputs, targets = torch.tensor([1.0, 3.0], dtype=torch.float16), torch.tensor([0.0, 0.0])
    assert make_loss("mse")(outputs, targets).dtype == torch.float32


def test_an_unknown_loss_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="cross_entropy, bce, mse, huber"):
        make_loss("hinge")


def test_a_shortened_schedule_reaches_its_low_rate_by_the_new_end():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    schedule = Schedule(optimizer, "onecycle", total_steps=1000)
    for _ in range(100):
        schedule.after_step()
    schedule.shorten_to(200)
    for _ in range(99):
        schedule.after_step()
    assert schedule.learning_rate < 1e-3
