"""Differential privacy's bookkeeping: the noise an (ε, δ) budget needs, and the ε spent."""

from __future__ import annotations

import pytest

from trainforge.errors import PrivacyBudgetTooSmall, PrivacyDeltaTooLarge
from trainforge.runtime.privacy_budget import (
    MAX_NOISE_MULTIPLIER,
    PrivacyLedger,
    check_delta,
    default_delta,
    epsilon_after,
    plan_noise,
)

pytest.importorskip("opacus")


def test_the_planned_noise_spends_the_budget_and_no_more():
    plan = plan_noise(epsilon=3.0, delta=1e-5, sample_rate=0.01, steps=2_000)
    spent = epsilon_after(noise_multiplier=plan.noise_multiplier, sample_rate=0.01,
                          steps=2_000, delta=1e-5)
    assert 2.9 <= spent <= 3.0


def test_a_smaller_epsilon_needs_more_noise():
    loose = plan_noise(epsilon=8.0, delta=1e-5, sample_rate=0.01, steps=2_000)
    tight = plan_noise(epsilon=1.0, delta=1e-5, sample_rate=0.01, steps=2_000)
    assert tight.noise_multiplier > loose.noise_multiplier


def test_an_epsilon_too_small_to_train_names_the_smallest_usable_one():
    with pytest.raises(PrivacyBudgetTooSmall, match=r"--dp-epsilon 0\.001 is too small.*"
                                                    r"smallest usable ε here is about"):
        plan_noise(epsilon=0.001, delta=1e-5, sample_rate=0.5, steps=500)


@pytest.mark.slow  # a DP-SGD fit: ~6 s
def test_the_smallest_usable_epsilon_it_names_does_train():
    smallest = epsilon_after(noise_multiplier=MAX_NOISE_MULTIPLIER, sample_rate=0.5,
                             steps=500, delta=1e-5)
    plan = plan_noise(epsilon=smallest * 1.05, delta=1e-5, sample_rate=0.5, steps=500)
    assert plan.noise_multiplier <= MAX_NOISE_MULTIPLIER


def test_the_default_delta_is_1e_5_or_a_tenth_of_one_over_n():
    assert (default_delta(1_000), default_delta(1_000_000)) == (1e-5, pytest.approx(1e-7))


def test_a_delta_of_one_over_n_or_more_is_refused_naming_it():
    with pytest.raises(PrivacyDeltaTooLarge, match=r"--dp-delta 0\.01 is not below 1/n = "
                                                   r"0\.005 for the 200 records"):
        check_delta(0.01, 200)


def test_a_ledger_counts_its_steps_and_survives_json():
    ledger = PrivacyLedger()
    for _ in range(300):
        ledger.step(noise_multiplier=1.1, sample_rate=0.02)
    copy = PrivacyLedger(ledger.to_json())
    assert (copy.steps, copy.epsilon(1e-5)) == (300, ledger.epsilon(1e-5))


def test_a_ledger_with_no_step_has_spent_nothing():
    assert PrivacyLedger().epsilon(1e-5) == 0.0
