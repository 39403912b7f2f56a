"""The partitioner of `trainforge federated simulate`: seeded, stratified, and saying what
each holder got."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.data.read import read_table
from trainforge.data.targets import clean_target, infer_task
from trainforge.errors import ColumnNotFound, ConfigError
from trainforge.federated.partition import MIN_CLIENT_ROWS, Scheme, parse_scheme, partition


@pytest.fixture(scope="module")
def credit() -> tuple[pd.DataFrame, object]:
    dataset = read_table(EXAMPLES / "credit_g.csv")
    task = infer_task(dataset, "class")
    frame, _ = clean_target(dataset, task)
    return frame, task


def test_iid_gives_every_holder_the_tables_class_shares(credit):
    frame, task = credit
    holders = partition(frame, task, n_clients=4, scheme=Scheme("iid"), seed=0)
    overall = (frame["class"] == "good").mean()
    assert [h.n_rows for h in holders] == [250, 250, 250, 250]
    assert all(abs(h.class_shares["good"] - overall) < 0.01 for h in holders)


def test_every_row_goes_to_exactly_one_holder(credit):
    frame, task = credit
    holders = partition(frame, task, n_clients=5, scheme=Scheme("dirichlet", alpha=0.5), seed=3)
    assert sorted(np.concatenate([h.rows for h in holders]).tolist()) == list(range(len(frame)))


def test_a_small_alpha_skews_the_holders_classes_and_a_large_one_does_not(credit):
    frame, task = credit

    def spread(alpha: float) -> float:
        holders = partition(frame, task, n_clients=5, scheme=Scheme("dirichlet", alpha=alpha),
                            seed=0)
        return float(np.std([h.class_shares["good"] for h in holders]))

    assert spread(0.1) > 0.2
    assert spread(1000.0) < 0.05


def test_the_same_seed_gives_the_same_holders_and_another_seed_others(credit):
    frame, task = credit
    scheme = Scheme("dirichlet", alpha=0.5)
    first = partition(frame, task, n_clients=3, scheme=scheme, seed=7)
    again = partition(frame, task, n_clients=3, scheme=scheme, seed=7)
    other = partition(frame, task, n_clients=3, scheme=scheme, seed=8)
    assert [h.rows.tolist() for h in first] == [h.rows.tolist() for h in again]
    assert [h.rows.tolist() for h in first] != [h.rows.tolist() for h in other]


def test_by_column_keeps_each_value_with_one_holder(credit):
    frame, task = credit
    holders = partition(frame, task, n_clients=3, scheme=Scheme("by-column", column="purpose"),
                        seed=0)
    owners = [set(frame["purpose"].iloc[h.rows].astype(str)) for h in holders]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])
    assert set().union(*owners) == set(frame["purpose"].astype(str))


def test_a_regression_target_is_dealt_by_its_quantiles():
    dataset = read_table(EXAMPLES / "concrete.csv")
    task = infer_task(dataset, dataset.columns[-1])
    frame, _ = clean_target(dataset, task)
    holders = partition(frame, task, n_clients=3, scheme=Scheme("iid"), seed=0)
    medians = [frame[task.target].iloc[h.rows].median() for h in holders]
    assert max(medians) - min(medians) < 0.1 * frame[task.target].std()
    assert all(h.class_shares == {} for h in holders)


def test_a_holder_is_described_by_its_rows_and_class_shares(credit):
    frame, task = credit
    holder = partition(frame, task, n_clients=2, scheme=Scheme("iid"), seed=0)[0]
    assert holder.describe() == "client-0: 500 rows (bad 30%, good 70%)"


@pytest.mark.parametrize(("text", "scheme"), [
    ("iid", Scheme("iid")), ("dirichlet:0.5", Scheme("dirichlet", alpha=0.5)),
    ("by-column:hospital", Scheme("by-column", column="hospital"))])
def test_partition_flags_are_read(text: str, scheme: Scheme):
    assert parse_scheme(text) == scheme


@pytest.mark.parametrize("text", ["random", "dirichlet:", "dirichlet:0", "by-column:"])
def test_an_unreadable_partition_says_how_to_write_one(text: str):
    with pytest.raises(ConfigError, match="--partition"):
        parse_scheme(text)


def test_too_many_holders_for_the_rows_says_to_use_fewer(credit):
    frame, task = credit
    with pytest.raises(ConfigError, match=f"at least {MIN_CLIENT_ROWS} rows.*fewer --clients"):
        partition(frame.iloc[:50], task, n_clients=6, scheme=Scheme("iid"), seed=0)


def test_by_a_column_the_table_lacks_names_the_column(credit):
    frame, task = credit
    with pytest.raises(ColumnNotFound, match="'hospital'"):
        partition(frame, task, n_clients=2, scheme=Scheme("by-column", column="hospital"),
                  seed=0)


def test_by_a_column_with_fewer_values_than_holders_says_so(credit):
    frame, task = credit
    with pytest.raises(ConfigError, match="'own_telephone'.* 2 values, fewer than --clients 3"):
        partition(frame, task, n_clients=3, scheme=Scheme("by-column", column="own_telephone"),
                  seed=0)
