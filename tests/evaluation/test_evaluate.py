import json

import numpy as np
import pytest

from trainforge.data.task import Task, TaskKind
from trainforge.errors import ColumnNotFound
from trainforge.evaluation.evaluate import evaluate, evaluate_predictions


def test_a_binary_evaluation_holds_every_classification_metric(credit):
    model, _, test = credit
    evaluation = evaluate(model, test)
    assert set(evaluation.metrics) == {"roc_auc", "pr_auc", "accuracy", "balanced_accuracy",
                                       "f1", "f1_macro", "f1_weighted", "log_loss"}


def test_a_linear_model_on_credit_g_ranks_better_than_chance(credit):
    model, _, test = credit
    assert 0.7 < evaluate(model, test).metrics["roc_auc"] < 0.95


def test_the_confusion_matrix_counts_every_row_once(credit):
    model, _, test = credit
    assert int(evaluate(model, test).confusion.sum()) == len(test)


def test_per_class_support_is_the_number_of_rows_of_each_class(credit):
    model, _, test = credit
    per_class = evaluate(model, test).per_class
    assert {label: v["support"] for label, v in per_class.items()} == \
        test["class"].value_counts().to_dict()


def test_the_evaluation_turns_into_json(vowel):
    model, _, test = vowel
    payload = json.loads(json.dumps(evaluate(model, test).to_dict()))
    assert payload["confusion"]["labels"] == list(model.task.classes)


def test_printing_an_evaluation_shows_the_optimised_metric_first(vowel):
    model, _, test = vowel
    lines = str(evaluate(model, test)).splitlines()
    assert lines[1].split()[0] == "balanced_accuracy" and "optimised" in lines[1]


def test_multiclass_roc_auc_is_reported_for_eleven_classes(vowel):
    model, _, test = vowel
    assert 0.8 < evaluate(model, test).metrics["roc_auc"] <= 1.0


def test_a_test_split_with_one_class_omits_roc_auc_with_a_note(credit):
    model, _, test = credit
    evaluation = evaluate(model, test[test["class"] == "good"])
    assert "roc_auc" not in evaluation.metrics
    assert any("only the class 'good'" in note for note in evaluation.notes)


def test_rows_without_a_target_are_left_out_and_counted(credit):
    model, _, test = credit
    holed = test.copy()
    holed.loc[holed.index[:7], "class"] = None
    evaluation = evaluate(model, holed)
    assert evaluation.n_rows == len(test) - 7 and "7 rows" in evaluation.notes[0]


def test_a_class_unseen_in_training_is_left_out_with_advice(credit):
    model, _, test = credit
    odd = test.copy()
    odd.loc[odd.index[:3], "class"] = "unknown"
    assert any("never saw" in note for note in evaluate(model, odd).notes)


def test_a_regression_evaluation_has_rmse_mae_r2_and_mape(concrete):
    model, _, test = concrete
    evaluation = evaluate(model, test)
    assert list(evaluation.metrics) == ["r2", "rmse", "mae", "mape"]
    assert 0.4 < evaluation.metrics["r2"] < 0.8


def test_mape_says_when_it_skipped_zero_truths():
    task = Task(target="y", kind=TaskKind.REGRESSION, metric="r2")
    evaluation = evaluate_predictions(task, np.array([0.0, 1.0, 2.0, 4.0]),
                                      np.array([0.5, 1.0, 2.5, 4.0]))
    assert any("skips the 1 rows" in note for note in evaluation.notes)


def test_evaluating_on_a_table_without_the_target_names_the_column(credit):
    model, _, test = credit
    with pytest.raises(ColumnNotFound, match="'class'"):
        evaluate(model, test.drop(columns=["class"]))
