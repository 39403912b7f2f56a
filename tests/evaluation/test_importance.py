import time

from trainforge.evaluation.importance import permutation_importance


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


def test_importance_samples_at_most_max_rows_and_stays_quick(credit):
    model, train, _ = credit
    started = time.monotonic()
    permutation_importance(model, train, max_rows=200)
    assert time.monotonic() - started < 2.0
