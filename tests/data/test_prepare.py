"""make_preprocessor: the matrix each model style learns from, and its saved form."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io as sio

from trainforge.algorithms.model import FeatureSpec, coerce_frame
from trainforge.data.dataset import ColumnKind as K
from trainforge.data.prepare import NotPreparable, make_preprocessor

SAFE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "trainforge.", "builtins.")


def _table(n_rows: int = 120, seed: int = 0) -> tuple[pd.DataFrame, dict[str, K]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, n_rows),
        "income": np.where(rng.random(n_rows) < 0.2, np.nan, rng.lognormal(10, 1, n_rows)),
        "colour": rng.choice(["red", "green", "blue", None], n_rows),
        "city": [f"city{i}" for i in rng.integers(0, 80, n_rows)],
        "member": rng.choice(["yes", "no"], n_rows),
        "joined": pd.date_range("2021-01-01", periods=n_rows, freq="37h").astype(str),
    })
    schema = {"age": K.NUMERIC, "income": K.NUMERIC, "colour": K.CATEGORICAL,
              "city": K.CATEGORICAL, "member": K.BOOLEAN, "joined": K.DATETIME}
    return frame, schema


def _coerced(frame: pd.DataFrame, schema: dict[str, K]) -> pd.DataFrame:
    dtypes = {K.NUMERIC: "number", K.DATETIME: "datetime", K.BOOLEAN: "boolean"}
    specs = [FeatureSpec(c, schema[c], dtypes.get(schema[c], "string")) for c in frame.columns]
    return coerce_frame(frame, specs)


def _fitted(style: str, frame: pd.DataFrame, schema: dict[str, K]) -> object:
    y = (frame["age"] > 40).astype(int).to_numpy()
    prep = make_preprocessor(schema, list(frame.columns), style=style,  # type: ignore[arg-type]
                             target_type="binary")
    return prep.fit(_coerced(frame, schema), y)


def test_tree_style_keeps_missing_numbers_as_nan_and_codes_categories():
    frame, schema = _table()
    matrix = _fitted("tree", frame, schema).transform(_coerced(frame, schema))
    names = list(_fitted("tree", frame, schema).get_feature_names_out())
    income = matrix[:, names.index("income")]
    assert np.isnan(income).sum() == frame["income"].isna().sum()
    colour = matrix[:, names.index("colour")]
    assert set(np.unique(colour[~np.isnan(colour)])) == {0.0, 1.0, 2.0}


def test_linear_style_has_no_missing_values_and_standard_scaled_numbers():
    frame, schema = _table()
    prep = _fitted("linear", frame, schema)
    matrix = prep.transform(_coerced(frame, schema))
    names = list(prep.get_feature_names_out())
    assert not np.isnan(matrix).any()
    assert abs(matrix[:, names.index("age")].mean()) < 1e-9
    assert "income__missing" in names


@pytest.mark.parametrize("style", ["linear", "tree"])
def test_infinite_numbers_are_prepared_as_missing_ones(style: str):
    # "inf" in a CSV is a float; left as it was, it made every model of a search fail
    frame, schema = _table()
    frame.loc[frame.index[:3], "age"] = [np.inf, -np.inf, np.inf]
    prep = _fitted(style, frame, schema)
    matrix = prep.transform(_coerced(frame, schema))
    assert np.isfinite(np.nan_to_num(matrix, nan=0.0)).all()
    age = matrix[:3, list(prep.get_feature_names_out()).index("age")]
    if style == "tree":
        assert np.isnan(age).all()
    else:
        assert np.isfinite(age).all() and not np.isnan(matrix).any()


def test_linear_style_one_hot_encodes_few_levels_and_target_encodes_many():
    frame, schema = _table(n_rows=2000)
    names = list(_fitted("linear", frame, schema).get_feature_names_out())
    assert {"colour=red", "colour=green", "colour=blue", "colour=missing"} <= set(names)
    assert names.count("city") == 1  # 80 levels: one target-encoded column


def test_an_unseen_category_is_ignored_by_the_linear_style():
    frame, schema = _table()
    new = frame.head(1).assign(colour=["purple"], city=["atlantis"])
    matrix = _fitted("linear", frame, schema).transform(_coerced(new, schema))
    assert np.isfinite(matrix).all()


def test_an_unseen_category_is_missing_for_the_tree_style():
    frame, schema = _table()
    prep = _fitted("tree", frame, schema)
    new = frame.head(1).assign(colour=["purple"])
    matrix = prep.transform(_coerced(new, schema))
    assert np.isnan(matrix[0, list(prep.get_feature_names_out()).index("colour")])


def test_datetime_columns_become_year_month_day_weekday_hour_and_days_since_epoch():
    frame = pd.DataFrame({"when": ["2024-03-15 13:00:00", None]})
    prep = make_preprocessor({"when": K.DATETIME}, ["when"], style="tree")
    matrix = prep.fit_transform(_coerced(frame, {"when": K.DATETIME}))
    assert matrix[0].tolist() == [2024, 3, 15, 4, 13, pytest.approx(19797.5416, abs=1e-3)]
    assert np.isnan(matrix[1]).all()


def test_booleans_become_zero_and_one():
    frame = pd.DataFrame({"flag": ["True", "False", None, "True"]})
    prep = make_preprocessor({"flag": K.BOOLEAN}, ["flag"], style="tree")
    assert prep.fit_transform(frame)[:, 0].tolist()[:2] == [1.0, 0.0]


def test_text_columns_give_trees_a_sparse_tf_idf_matrix_of_their_words():
    frame = pd.DataFrame({"review": ["great film", "bad film", None, "great plot"] * 5,
                          "stars": [5.0, 1.0, 3.0, 4.0] * 5})
    schema = {"review": K.TEXT, "stars": K.NUMERIC}
    matrix = make_preprocessor(schema, ["review", "stars"], style="tree").fit_transform(frame)
    assert sp.issparse(matrix) and matrix.shape == (20, 1 + 4)


def test_linear_models_also_get_word_pairs_and_character_ngrams_of_text():
    frame = pd.DataFrame({"review": ["great film", "bad film", None, "great plot"] * 5})
    prep = make_preprocessor({"review": K.TEXT}, ["review"], style="linear")
    matrix = prep.fit_transform(frame)
    words, characters = prep.encoders_[0].transformer_list
    assert "great film" in words[1].vocabulary_ and "fil" in characters[1].vocabulary_
    assert matrix.shape[1] == len(words[1].vocabulary_) + len(characters[1].vocabulary_)


def test_unlabeled_vocabulary_rows_add_their_words_to_the_tf_idf_and_no_rows_to_the_matrix():
    frame = pd.DataFrame({"review": ["great film", "bad film"] * 5})
    unlabeled = pd.DataFrame({"review": ["dreadful plot"] * 3})
    prep = make_preprocessor({"review": K.TEXT}, ["review"], style="tree")
    matrix = prep.fit_transform(frame, vocabulary=unlabeled)
    assert "dreadful" in prep.encoders_[0].vocabulary_ and matrix.shape == (10, 5)


@pytest.mark.parametrize("style", ["linear", "tree"])
def test_a_fitted_preprocessor_round_trips_through_skops(style: str):
    frame, schema = _table()
    prep = _fitted(style, frame, schema)
    blob = sio.dumps(prep)
    untrusted = sio.get_untrusted_types(data=blob)
    assert all(t.startswith(SAFE_PREFIXES) for t in untrusted), untrusted
    loaded = sio.loads(blob, trusted=untrusted)
    coerced = _coerced(frame, schema)
    np.testing.assert_array_equal(loaded.transform(coerced), prep.transform(coerced))


def test_one_row_gives_the_same_numbers_as_the_same_row_in_a_batch():
    frame, schema = _table(n_rows=200)
    prep = _fitted("linear", frame, schema)
    coerced = _coerced(frame, schema)
    np.testing.assert_allclose(prep.transform(coerced.iloc[[150]]),
                               prep.transform(coerced)[[150]])


def test_transforming_one_row_of_fifteen_columns_takes_well_under_a_millisecond():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=300) for i in range(11)})
    for i in range(4):
        frame[f"c{i}"] = rng.choice(["a", "b", "c"], 300)
    schema = {c: (K.CATEGORICAL if c.startswith("c") else K.NUMERIC) for c in frame.columns}
    prep = make_preprocessor(schema, list(frame.columns), style="tree").fit(frame)
    one = _coerced(frame.head(1), schema)
    prep.transform(one)
    started = time.perf_counter()
    for _ in range(200):
        prep.transform(one)
    per_row_ms = (time.perf_counter() - started) / 200 * 1000
    assert per_row_ms < 1.0  # ~0.15 ms on an idle core; generous for a shared machine


def test_a_feature_missing_from_the_schema_is_named_in_the_error():
    with pytest.raises(NotPreparable, match="'height'"):
        make_preprocessor({"age": K.NUMERIC}, ["age", "height"], style="tree")


def test_the_docstring_example_runs():
    import doctest

    from trainforge.data import prepare

    outcome = doctest.testmod(prepare)
    assert outcome.attempted > 0 and outcome.failed == 0


def test_compress_tails_puts_a_long_tailed_column_on_a_log_scale_and_leaves_others():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"income": rng.lognormal(10, 1.5, 500), "age": rng.normal(40, 9, 500)})
    kinds = {"income": K.NUMERIC, "age": K.NUMERIC}
    tamed = make_preprocessor(kinds, ["income", "age"], style="linear",
                              compress_tails=True).fit(frame)
    plain = make_preprocessor(kinds, ["income", "age"], style="linear").fit(frame)
    income, age = tamed.transform(frame).T
    assert np.abs(income).max() < 4 < np.abs(plain.transform(frame)[:, 0]).max()
    assert np.allclose(age, plain.transform(frame)[:, 1])


def test_compressed_tails_keep_the_order_of_values_and_read_unseen_extremes():
    frame = pd.DataFrame({"amount": [0.0] * 90 + [10.0, 50, 100, 500, 1e3, 5e3, 1e4, 5e4, 1e5, 1e6]})
    prep = make_preprocessor({"amount": K.NUMERIC}, ["amount"], style="linear",
                             compress_tails=True).fit(frame)
    out = prep.transform(pd.DataFrame({"amount": [-5.0, 0.0, 20.0, 1e9]}))[:, 0]
    assert list(np.argsort(out)) == [0, 1, 2, 3] and np.isfinite(out).all()
