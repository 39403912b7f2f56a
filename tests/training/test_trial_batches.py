"""The batches' pruning rule: Optuna's percentile pruner, frozen at a batch's start."""

from __future__ import annotations

from trainforge.training.trial_batches import PruneRule, prune_rule

FOUR_FINISHED = [{0: 0.6, 1: 0.7}, {0: 0.7, 1: 0.8}, {0: 0.8, 1: 0.9}, {0: 0.9, 1: 1.0}]


def test_no_trial_is_pruned_before_four_have_finished():
    assert prune_rule(FOUR_FINISHED[:3]) == PruneRule()


def test_a_trial_below_the_finished_trials_lowest_quarter_at_a_fold_is_pruned():
    assert prune_rule(FOUR_FINISHED).prunes([(0, 0.6)])


def test_a_trial_above_the_lowest_quarter_goes_on():
    assert not prune_rule(FOUR_FINISHED).prunes([(0, 0.7)])


def test_a_trial_is_judged_by_its_best_fold_so_far_as_optuna_does():
    assert not prune_rule(FOUR_FINISHED).prunes([(0, 0.9), (1, 0.6)])
