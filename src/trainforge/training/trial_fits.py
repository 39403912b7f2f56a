"""Each finished trial's score on the rows it learned from, beside its validation score: what
the search's overfitting check (``evaluation.search_rules.every_trial_overfits``) reads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainforge.algorithms import catalog
from trainforge.training.trial import SearchData, TrialResult

# a train score on 500 rows is within ~0.02 of the full one, and costs one small predict per trial
TRAIN_SCORE_ROWS = 500
# the trials checked: past 20, one more trial that overfits tells nothing new
MAX_TRIALS_CHECKED = 20


def trial_fits(results: Sequence[TrialResult], data: SearchData
               ) -> list[tuple[str, float, float]]:
    """(algorithm, train score, validation score) of each finished tabular trial that still
    holds its first fold's model. Networks are left out: their own rule (``overfitting``)
    watches train and validation loss epoch by epoch."""
    train_rows = data.resampling.folds[0][0]
    chosen = np.random.default_rng(data.seed).permutation(len(train_rows))[:TRAIN_SCORE_ROWS]
    chosen.sort()
    fits = []
    for result in [r for r in results if r.ok and r.members and r.score is not None][
            :MAX_TRIALS_CHECKED]:
        estimator = result.members[0].estimator
        if getattr(estimator, "reports_epochs", False):
            continue
        fold = data.prepared(catalog.get(result.spec.algorithm).preprocessing, 0)
        rows = fold.train[chosen]
        output = (estimator.predict_proba(rows) if data.task.kind.is_classification
                  else np.asarray(estimator.predict(rows)).reshape(-1))
        fits.append((result.spec.algorithm,
                     float(data.scorer.score(data.y[train_rows[chosen]],
                                             np.asarray(output, dtype=np.float64))),
                     float(result.score)))  # type: ignore[arg-type]  # checked above
    return fits
