import pytest

from trainforge.evaluation.diagnosis import (
    GOOD_FIT,
    OVERFITTING,
    UNDERFITTING,
    VALIDATION_OPTIMISTIC,
    diagnose,
)


def test_close_scores_are_a_good_fit():
    diagnosis = diagnose(metric="roc_auc", train_score=0.86, validation_score=0.84,
                         test_score=0.83)
    assert diagnosis.verdict == GOOD_FIT


def test_a_train_score_far_above_validation_is_overfitting_and_says_by_how_much():
    diagnosis = diagnose(metric="roc_auc", train_score=1.0, validation_score=0.80,
                         test_score=0.79)
    assert diagnosis.verdict == OVERFITTING
    assert "0.2 better" in diagnosis.findings[0] and "40%" in diagnosis.findings[0]


def test_overfitting_advice_says_a_longer_time_budget_is_not_the_cure():
    diagnosis = diagnose(metric="r2", train_score=0.95, validation_score=0.6, test_score=0.58)
    assert any("NOT the cure" in tip for tip in diagnosis.advice)


def test_an_error_metric_overfits_when_validation_error_is_far_larger():
    diagnosis = diagnose(metric="rmse", train_score=2.0, validation_score=5.0, test_score=5.1,
                         higher_is_better=False)
    assert diagnosis.verdict == OVERFITTING


def test_the_same_absolute_gap_is_small_for_a_large_error():
    diagnosis = diagnose(metric="rmse", train_score=100.0, validation_score=103.0,
                         test_score=104.0, higher_is_better=False)
    assert diagnosis.verdict == GOOD_FIT


def test_scores_barely_above_the_baseline_are_underfitting():
    diagnosis = diagnose(metric="balanced_accuracy", train_score=0.53, validation_score=0.52,
                         test_score=0.52, baseline_score=0.5)
    assert diagnosis.verdict == UNDERFITTING


def test_roc_auc_near_chance_is_underfitting_without_a_baseline():
    diagnosis = diagnose(metric="roc_auc", train_score=0.54, validation_score=0.53,
                         test_score=0.52)
    assert diagnosis.verdict == UNDERFITTING


def test_a_test_score_clearly_below_validation_means_validation_was_optimistic():
    diagnosis = diagnose(metric="roc_auc", train_score=0.92, validation_score=0.90,
                         test_score=0.84)
    assert diagnosis.verdict == VALIDATION_OPTIMISTIC
    assert any("cross-validation" in tip for tip in diagnosis.advice)


def test_an_overfit_model_with_an_optimistic_validation_reports_both():
    diagnosis = diagnose(metric="accuracy", train_score=1.0, validation_score=0.85,
                         test_score=0.75, baseline_score=0.5)
    assert diagnosis.verdict == OVERFITTING
    assert len(diagnosis.findings) == 2


def test_a_test_score_better_than_validation_is_not_a_problem():
    diagnosis = diagnose(metric="accuracy", train_score=0.82, validation_score=0.80,
                         test_score=0.86)
    assert diagnosis.verdict == GOOD_FIT


@pytest.mark.parametrize("gap", [0.02, 0.045])
def test_a_gap_under_a_tenth_of_the_room_above_baseline_is_still_a_good_fit(gap: float):
    diagnosis = diagnose(metric="roc_auc", train_score=0.80 + gap, validation_score=0.80,
                         test_score=0.80, baseline_score=0.5)
    assert diagnosis.verdict == GOOD_FIT


def test_a_diagnosis_prints_its_verdict_and_scores():
    text = str(diagnose(metric="r2", train_score=0.9, validation_score=0.88, test_score=0.87))
    assert text.startswith("Diagnosis (r2): good fit") and "validation 0.8800" in text


def test_the_example_in_the_module_docstring_holds():
    import doctest

    from trainforge.evaluation import diagnosis

    assert doctest.testmod(diagnosis) == (0, 1)  # one example, and it passes


def test_on_a_small_test_split_a_modest_drop_from_validation_is_noise():
    diagnosis = diagnose(metric="roc_auc", train_score=0.84, validation_score=0.82,
                         test_score=0.78, n_test_rows=200)
    assert diagnosis.verdict == GOOD_FIT and "noise of a score on 200 test rows" in str(diagnosis)


def test_on_a_large_test_split_the_same_drop_means_validation_was_optimistic():
    diagnosis = diagnose(metric="roc_auc", train_score=0.84, validation_score=0.82,
                         test_score=0.78, n_test_rows=20_000)
    assert diagnosis.verdict == VALIDATION_OPTIMISTIC
