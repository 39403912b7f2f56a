"""search() keeps the blend's out-of-fold predictions: what label issues are found from."""

from __future__ import annotations

import numpy as np
import pytest
from tests.training._tables import FEATURES, SCHEMA, table

from trainforge.data.task import TaskKind
from trainforge.training.automl import search
from trainforge.training.scoring import scorer_for


@pytest.fixture(scope="module")
def searched():
    frame, task = table(TaskKind.MULTICLASS)
    result = search(frame, task=task, schema=SCHEMA, features=FEATURES, deadline=None,
                    trials=2, algorithm="linear", seed=0)
    return frame, task, result


def test_the_blends_out_of_fold_probabilities_cover_every_cross_validated_row(searched):
    frame, task, result = searched
    assert result.validation_rows.tolist() == list(range(len(frame)))
    assert result.validation_predictions.shape == (len(frame), len(task.classes))


def test_the_out_of_fold_probabilities_score_as_the_blends_validation_score(searched):
    frame, task, result = searched
    codes = frame[task.target].map({label: i for i, label in enumerate(task.classes)})
    scorer = scorer_for(task.metric, task.kind)
    assert scorer.score(codes.to_numpy()[result.validation_rows],
                        result.validation_predictions) == pytest.approx(result.validation_score)
    assert np.allclose(result.validation_predictions.sum(axis=1), 1.0)
