"""Central differential privacy's budget for a federation: the noise the planned rounds need,
the ε each round has spent, the refusals before anything starts, and the words the report and
the model card use for it."""

from __future__ import annotations

import pytest

from trainforge.config import FederatedSimulationConfig
from trainforge.errors import PrivacyBudgetTooSmall, PrivacyDeltaTooLarge
from trainforge.evaluation.privacy_statement import privacy_paragraphs, privacy_record
from trainforge.federated.central_privacy import plan_central_privacy


def test_the_planned_rounds_spend_the_budget_and_no_more():
    budget = plan_central_privacy(epsilon=3.0, delta=1e-5, clipping_norm=1.0, rounds=5,
                                  clients=10)
    assert 2.95 <= budget.epsilon_after(5) <= 3.0


def test_each_round_spends_more_of_the_budget():
    budget = plan_central_privacy(epsilon=8.0, delta=1e-5, clipping_norm=1.0, rounds=4,
                                  clients=10)
    spent = [budget.epsilon_after(r) for r in range(5)]
    assert spent[0] == 0.0 and spent == sorted(spent) and len(set(spent)) == 5


def test_more_rounds_need_more_noise_for_the_same_budget():
    few, many = (plan_central_privacy(epsilon=3.0, delta=1e-5, clipping_norm=1.0,
                                      rounds=rounds, clients=10) for rounds in (3, 30))
    assert many.noise_multiplier > 2 * few.noise_multiplier


def test_an_epsilon_too_small_is_refused_naming_the_smallest_usable_one():
    with pytest.raises(PrivacyBudgetTooSmall, match=r"--dp-epsilon 0\.5 is too small to train "
                                                    r"for 5 rounds of 10 clients.*about 0\.897.*"
                                                    r"more --clients"):
        plan_central_privacy(epsilon=0.5, delta=1e-5, clipping_norm=1.0, rounds=5, clients=10)


def test_a_delta_of_one_over_the_clients_is_refused():
    with pytest.raises(PrivacyDeltaTooLarge, match=r"--dp-delta 0\.1 is not below 1/n = 0\.1 "
                                                   r"for the 10 records"):
        plan_central_privacy(epsilon=3.0, delta=0.1, clipping_norm=1.0, rounds=5, clients=10)


def test_a_delta_without_an_epsilon_is_refused():
    with pytest.raises(ValueError, match="dp_delta is the δ of a"):
        FederatedSimulationConfig(data="t.csv", target="y", dp_delta=1e-5)


def test_the_report_and_card_say_it_was_central_dp_over_the_clients():
    budget = plan_central_privacy(epsilon=3.0, delta=1e-5, clipping_norm=2.0, rounds=5,
                                  clients=10)
    record = privacy_record(budget.lineage(5))
    assert record is not None
    how, scope = privacy_paragraphs(record)
    assert "central differential privacy" in how and "clipped to an L2 norm of 2" in how
    assert "every one of 10 clients in each of 5 rounds" in how
    assert scope.startswith("ε is per client (user-level)")
