"""Each training rule fires on a crafted trace of what the loop records, and stays silent on
a healthy one: the rules are pure functions over recorded numbers."""

from __future__ import annotations

import math

import pytest

from trainforge.runtime import rules
from trainforge.runtime.loop_records import EpochState
from trainforge.runtime.rules import StepSample

HEALTHY_NORMS = {"0": 0.8, "2": 0.5}


def _steps(losses: list[float], *, norms: dict[str, float] | None = None,
           update_ratio: float | None = 1e-3, dead: dict[str, float] | None = None,
           weights: list[float] | None = None) -> list[StepSample]:
    # the healthy ResNet's weights grew from 18.4 to 18.6 in 30 steps (benchmarks/rules)
    weights = weights or [18.4 + 0.01 * i for i in range(len(losses))]
    return [StepSample(epoch=1, step=10 * (i + 1), loss=loss, learning_rate=1e-3,
                       grad_norms=norms if norms is not None else HEALTHY_NORMS,
                       update_ratio=update_ratio, dead_relu=dead or {"1": 0.05},
                       weight_norm=weight)
            for i, (loss, weight) in enumerate(zip(losses, weights, strict=True))]


def _epochs(train: list[float], valid: list[float] | None = None, *,
            recall: list[float] | None = None, support: list[int] | None = None
            ) -> list[EpochState]:
    return [EpochState(epoch=i + 1, step=10 * (i + 1), train_loss=t,
                       val_loss=None if valid is None else valid[i], val_score=None,
                       best_score=None, best_epoch=1, learning_rate=1e-3, epoch_s=0.1,
                       elapsed_s=0.1 * (i + 1), val_recall=recall, val_support=support)
            for i, t in enumerate(train)]


HEALTHY_STEPS = _steps([2.3, 2.0, 1.7, 1.8, 1.4, 1.2, 1.25, 1.0, 0.9, 0.85])
HEALTHY_EPOCHS = _epochs([1.2, 0.8, 0.6, 0.5, 0.45], [1.1, 0.85, 0.7, 0.66, 0.65],
                         recall=[0.9, 0.85, 0.8], support=[40, 35, 25])


@pytest.mark.parametrize("rule", rules.STEP_RULES, ids=lambda r: r.__name__)
def test_a_step_rule_is_silent_on_a_healthy_trace(rule):
    assert rule(HEALTHY_STEPS) is None


@pytest.mark.parametrize("rule", rules.EPOCH_RULES, ids=lambda r: r.__name__)
def test_an_epoch_rule_is_silent_on_a_healthy_trace(rule):
    assert rule(HEALTHY_EPOCHS) is None


def test_a_nan_loss_fires_loss_diverged_with_the_step_it_was_seen_at():
    finding = rules.loss_diverged(_steps([2.3, 2.1, math.nan]))
    assert (finding.rule, finding.step, finding.epoch) == ("loss_diverged", 30, 1)


def test_a_loss_grown_tenfold_fires_loss_diverged_naming_both_losses():
    finding = rules.loss_diverged(_steps([2.0, 5.0, 40.0]))
    assert finding.measured == {"first_loss": 2.0, "loss": 40.0}


def test_gradients_past_a_thousand_for_three_checks_fire_exploding_gradients():
    finding = rules.exploding_gradients(_steps([2.0] * 3, norms={"0": 5e3, "2": 10.0}))
    assert finding.rule == "exploding_gradients" and "'0'" in finding.message


def test_a_gradient_past_a_hundred_at_the_first_step_fires_exploding_gradients():
    # an MLP fed raw 0..255 pixels: 270 at step 1, then clipped and falling, never past 1,000
    steps = [StepSample(epoch=1, step=1, loss=25.6, grad_norms={"1": 270.0, "3": 9.0})]
    finding = rules.exploding_gradients(steps)
    assert (finding.step, finding.measured["grad_norm"]) == (1, pytest.approx(270.15, abs=0.01))


def test_a_gradient_past_a_hundred_later_in_the_run_is_no_first_step_explosion():
    first = StepSample(epoch=1, step=1, loss=2.3, grad_norms=HEALTHY_NORMS)
    steps = [first, *_steps([2.0], norms={"0": 270.0, "2": 9.0})]
    assert rules.exploding_gradients(steps) is None


def test_one_gradient_spike_is_not_an_explosion():
    steps = _steps([2.0] * 2) + _steps([2.0], norms={"0": 5e3, "2": 10.0})
    assert rules.exploding_gradients(steps) is None


def test_a_first_layer_gradient_a_millionth_of_the_last_fires_vanishing_gradients():
    finding = rules.vanishing_gradients(_steps([2.0] * 3, norms={"0": 1e-9, "2": 0.5}))
    assert finding.rule == "vanishing_gradients" and finding.measured["first_layer_ratio"] < 1e-6


def test_no_gradient_at_all_while_the_loss_is_high_fires_vanishing_gradients():
    finding = rules.vanishing_gradients(_steps([2.0] * 3, norms={"0": 0.0, "2": 0.0}))
    assert finding.measured == {"grad_norm": 0.0}


def test_half_a_relu_layer_silent_for_three_checks_fires_dead_relus():
    finding = rules.dead_relus(_steps([2.0] * 3, dead={"1": 0.8, "3": 0.1}))
    assert (finding.rule, finding.measured["dead_share"]) == ("dead_relus", 0.8)


def test_a_loss_rising_after_the_first_steps_fires_learning_rate_too_high():
    finding = rules.learning_rate_too_high(_steps([2.3, 2.0, 2.1, 2.4, 2.9, 3.5, 4.0, 4.4]))
    assert finding.rule == "learning_rate_too_high" and finding.measured["late_loss"] > 3


def test_steps_moving_the_weights_by_their_own_size_fire_learning_rate_too_high():
    finding = rules.learning_rate_too_high(_steps([2.0] * 3, update_ratio=2.0))
    assert finding.measured["update_ratio"] == 2.0


def test_a_loss_swinging_by_its_own_size_fires_learning_rate_too_high():
    finding = rules.learning_rate_too_high(_steps([2.0, 0.5, 3.0, 0.4, 2.8, 0.3, 3.1, 0.5]))
    assert "swings" in finding.message


def test_weights_grown_tenfold_fire_learning_rate_too_high_while_the_loss_stays_bounded():
    # the ResNet at learning rate 10: BatchNorm and clipping kept its batch loss under 13
    steps = _steps([2.3, 6.8, 12.3], weights=[18.4, 751.0, 3790.0], update_ratio=0.2)
    finding = rules.learning_rate_too_high(steps)
    assert (finding.step, round(finding.measured["weight_growth"])) == (30, 206)


def test_weights_grown_by_half_are_not_blamed_on_the_learning_rate():
    steps = _steps([2.3, 2.2, 2.1], weights=[18.4, 23.0, 27.6])
    assert rules.learning_rate_too_high(steps) is None


def test_weights_grown_slowly_over_many_steps_are_not_blamed_on_the_learning_rate():
    # a fresh linear head can grow steadily for hundreds of steps: 50x, but 1.4x per 20 steps
    steps = _steps([0.7] * 12, weights=[0.8 * 1.4 ** i for i in range(12)])
    assert rules.learning_rate_too_high(steps) is None


def test_tiny_updates_with_healthy_gradients_fire_learning_rate_too_low():
    finding = rules.learning_rate_too_low(_steps([2.3] * 3, update_ratio=1e-8))
    assert finding.rule == "learning_rate_too_low" and finding.measured["grad_norm"] > 0.5


def test_tiny_updates_from_vanished_gradients_are_not_blamed_on_the_learning_rate():
    steps = _steps([2.3] * 3, update_ratio=1e-8, norms={"0": 0.0, "2": 0.0})
    assert rules.learning_rate_too_low(steps) is None


def test_a_validation_loss_that_never_falls_fires_loss_not_decreasing():
    finding = rules.loss_not_decreasing(_epochs([2.3, 2.2, 2.1], [2.30, 2.31, 2.33]))
    assert "validation loss" in finding.message and finding.epoch == 3


def test_a_validation_loss_far_above_the_training_loss_fires_loss_diverged():
    # the ResNet at learning rate 10, epoch 1: bounded batches, BatchNorm statistics blown up
    finding = rules.validation_loss_diverged(_epochs([10.95], [962446.25]))
    assert (finding.rule, finding.epoch, finding.measured["val_loss"]) == (
        "loss_diverged", 1, 962446.25)


def test_a_nan_validation_loss_fires_loss_diverged():
    assert rules.validation_loss_diverged(_epochs([2.3], [math.nan])).rule == "loss_diverged"


def test_a_small_validation_loss_is_no_divergence_however_small_the_training_loss():
    assert rules.validation_loss_diverged(_epochs([0.02, 0.001], [0.3, 0.6])) is None


def test_train_falling_while_validation_rises_for_three_epochs_fires_overfitting():
    finding = rules.overfitting(_epochs([1.0, 0.8, 0.6, 0.4, 0.2], [0.9, 0.7, 0.75, 0.8, 0.9]))
    assert finding.measured == {"train_loss": 0.2, "val_loss": 0.9, "best_val_loss": 0.7}


def test_a_minority_class_with_a_far_lower_recall_fires_minority_class_ignored():
    epochs = _epochs([1.0, 0.8], [1.0, 0.995], recall=[0.95, 0.9, 0.1], support=[60, 55, 5])
    finding = rules.minority_class_ignored(epochs)
    assert (finding.measured["class"], finding.measured["recall"]) == (2.0, 0.1)


def test_a_minority_class_not_learned_yet_while_validation_loss_falls_is_not_called_ignored():
    # the healthy SMS GRU: every message "ham" for four epochs, spam recall 0.88 by the sixth
    epochs = _epochs([0.62, 0.50], [0.54, 0.41], recall=[1.0, 0.0], support=[174, 26])
    assert rules.minority_class_ignored(epochs) is None


def test_a_class_absent_from_validation_is_not_called_ignored():
    epochs = _epochs([1.0, 0.8], [1.0, 0.9], recall=[0.95, 0.9, 0.0], support=[60, 55, 0])
    assert rules.minority_class_ignored(epochs) is None


def test_a_finding_reads_as_one_line_with_where_when_and_what_to_try():
    finding = rules.Finding("loss_diverged", "the training loss became nan", "a lower rate",
                            epoch=2, step=30, where="cnn")
    assert str(finding) == ("loss_diverged (cnn epoch 2 step 30): the training loss became "
                            "nan; try a lower rate")


def test_every_rule_has_generic_advice_for_the_run_page():
    # validation_loss_diverged reports as loss_diverged, loss_at_class_shares as
    # loss_not_decreasing
    names = {r.__name__ for r in (*rules.STEP_RULES, *rules.EPOCH_RULES)} - {
        "validation_loss_diverged", "loss_at_class_shares"}
    assert names <= set(rules.ADVICE)


def test_a_validation_loss_stuck_at_the_class_shares_entropy_fires_loss_not_decreasing():
    # 13 % spam: answering the shares costs 0.386; the loss fell from ln 2 to there and stopped
    epochs = _epochs([0.6, 0.42, 0.39, 0.38], [0.5, 0.40, 0.388, 0.387], recall=[1.0, 0.0],
                     support=[87, 13])
    finding = rules.loss_at_class_shares(epochs)
    assert finding.rule == "loss_not_decreasing" and "class shares" in finding.message
    assert finding.measured["class_shares_loss"] == pytest.approx(0.3864, abs=1e-4)


def test_a_validation_loss_near_the_class_shares_entropy_but_still_falling_is_learning():
    epochs = _epochs([0.62, 0.50, 0.41], [0.54, 0.41, 0.38], recall=[1.0, 0.0],
                     support=[87, 13])
    assert rules.loss_at_class_shares(epochs) is None


def test_a_validation_loss_well_under_the_class_shares_entropy_is_learning():
    epochs = _epochs([0.6, 0.3, 0.2], [0.5, 0.25, 0.15], recall=[0.99, 0.8], support=[87, 13])
    assert rules.loss_at_class_shares(epochs) is None
