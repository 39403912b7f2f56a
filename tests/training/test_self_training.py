"""Self-training admits pseudo-labels per class, surest first, and reads unlabeled texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.data.schema import infer_schema
from trainforge.data.task import Task, TaskKind
from trainforge.training.automl import search
from trainforge.training.self_training import admit_pseudo_labels, fit_recipe, self_train


def test_a_majority_class_cannot_flood_the_pseudo_labels():
    proba = np.array([[0.99, 0.01]] * 8 + [[0.4, 0.6]] * 2)
    _, codes = admit_pseudo_labels(proba, share=0.8, class_shares=[0.5, 0.5])
    assert np.bincount(codes).tolist() == [4, 4]


def test_each_class_admits_the_rows_most_sure_to_belong_to_it():
    proba = np.array([[0.6, 0.4], [0.95, 0.05], [0.2, 0.8], [0.45, 0.55], [0.7, 0.3]])
    rows, codes = admit_pseudo_labels(proba, share=0.4, class_shares=[0.5, 0.5])
    assert rows.tolist() == [1, 2] and codes.tolist() == [0, 1]


def _sms_task() -> tuple[pd.DataFrame, pd.DataFrame, Task, dict, list[str]]:
    rows = pd.read_csv(EXAMPLES / "sms_spam.csv")
    target = "label"
    schema = infer_schema(rows)
    features = [c for c in rows.columns if c != target]
    task = Task(target=target, kind=TaskKind.BINARY, metric="roc_auc",
                classes=tuple(sorted(rows[target].astype(str).unique())))
    return rows.iloc[:120], rows.iloc[120:600].drop(columns=[target]), task, schema, features


def test_the_recipe_learns_words_only_the_unlabeled_texts_hold():
    labeled, unlabeled, task, schema, features = _sms_task()
    result = search(labeled, task=task, schema=schema, features=features, deadline=None,
                    trials=1, algorithm="linear")
    model = fit_recipe(result, labeled, vocabulary=unlabeled, task=task, schema=schema,
                       features=features, seed=0, deadline=None)
    words = model.members[0].preprocessor.encoders_[0].transformer_list[0][1].vocabulary_
    unseen = set(" ".join(unlabeled.iloc[:, 0].str.lower()).split()) - set(
        " ".join(labeled.iloc[:, 0].str.lower()).split())
    assert unseen & set(words)


@pytest.mark.slow
def test_self_training_returns_one_model_per_round_with_a_growing_pseudo_labeled_set():
    labeled, unlabeled, task, schema, features = _sms_task()
    result = search(labeled, task=task, schema=schema, features=features, deadline=None,
                    trials=1, algorithm="linear")
    trained = self_train(result, result.model, labeled, unlabeled, task=task, schema=schema,
                         features=features, seed=0, deadline=None)
    admitted = [n for _, n in trained]
    assert len(admitted) == 3 and admitted[0] < admitted[1] < admitted[2] <= len(unlabeled)
