import time

import pandas as pd
import pytest

from trainforge.evaluation.importance import _affordable_rows, permutation_importance


def test_cement_matters_most_for_concrete_strength(concrete):
    model, _, test = concrete
    assert permutation_importance(model, test)[0][0] == "cement"


def test_importance_covers_every_input_column_once(credit):
    model, _, test = credit
    found = [name for name, _, _ in permutation_importance(model, test, repeats=1)]
    assert sorted(found) == sorted(f.name for f in model.features)


def test_importance_is_the_same_for_the_same_seed(vowel):
    model, _, test = vowel
    assert permutation_importance(model, test, seed=3) == permutation_importance(model, test,
                                                                                seed=3)


def test_a_past_deadline_returns_what_was_measured_so_far(credit):
    model, _, test = credit
    assert permutation_importance(model, test, deadline=time.monotonic() - 1.0) == []


@pytest.mark.slow
def test_twenty_columns_of_two_thousand_rows_take_under_three_seconds(credit):
    model, train, test = credit
    rows = pd.concat([train, test, train, test], ignore_index=True)  # 4,000 rows, 2,000 scored
    # CPU time, not wall time: the test machine is shared, and waiting for a core is not ours
    started = time.process_time()
    permutation_importance(model, rows, max_rows=2000)
    assert time.process_time() - started < 3.0


def test_a_tight_deadline_shrinks_the_sample_so_every_column_gets_one_shuffle():
    # 10 columns at 1 ms a row leave room for about 100 rows in 1 s
    assert 80 <= _affordable_rows(2000, 10, 0.001, time.monotonic() + 1.0) <= 100


def test_without_a_deadline_every_sampled_row_is_scored():
    assert _affordable_rows(2000, 10, 0.001, None) == 2000
