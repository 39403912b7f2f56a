"""Hold out a test split: stratified, random, by group or by time.

    >>> frame = pd.DataFrame({"x": range(10), "y": ["no", "yes"] * 5})
    >>> from trainforge.data.task import TaskKind
    >>> task = Task("y", TaskKind.BINARY, "roc_auc", ("no", "yes"))
    >>> train, test = train_test_split(frame, task, test_size=0.2, seed=0)
    >>> len(train), sorted(test["y"])
    (8, ['no', 'yes'])

Stratified splits keep every class on both sides (each class has at least 2 rows after
``clean_target``); group splits keep each group on one side; time splits test on the latest
rows. The same seed gives the same split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainforge.data.task import Task
from trainforge.errors import ColumnNotFound, ConfigError, EmptyData

STRATEGIES = ("stratified", "random", "group", "time")


def _test_count(n_rows: int, test_size: float) -> int:
    return min(max(1, round(n_rows * test_size)), n_rows - 1)


def _random_positions(n_rows: int, test_size: float, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n_rows)[:_test_count(n_rows, test_size)]


def _stratified_positions(labels: pd.Series, test_size: float,
                          rng: np.random.Generator) -> np.ndarray:
    """Per class, its share of the test rows (largest remainders), at least one on each side."""
    codes, uniques = pd.factorize(labels, sort=True, use_na_sentinel=False)
    sizes = np.bincount(codes, minlength=len(uniques))
    wanted = sizes * test_size
    take = np.floor(wanted).astype(int)
    remainder_order = np.argsort(-(wanted - take), kind="stable")
    for code in remainder_order[: max(0, _test_count(len(labels), test_size) - int(take.sum()))]:
        take[code] += 1
    take = np.clip(take, np.where(sizes >= 2, 1, 0), np.maximum(sizes - 1, 0))
    chosen = [rng.permutation(np.flatnonzero(codes == code))[:count]
              for code, count in enumerate(take)]
    return np.concatenate(chosen) if chosen else np.array([], dtype=int)


def _column(frame: pd.DataFrame, name: str | None, *, strategy: str, flag: str) -> pd.Series:
    if name is None:
        raise ConfigError(f"split strategy {strategy!r} needs a column: pass {flag}")
    if name not in frame.columns:
        raise ColumnNotFound(name, "the table", [str(c) for c in frame.columns], flag)
    return frame[name]


def _group_positions(groups: pd.Series, test_size: float, rng: np.random.Generator,
                     name: str) -> np.ndarray:
    """Whole groups, in a seeded random order, until the test side holds its share of rows."""
    codes, uniques = pd.factorize(groups, use_na_sentinel=False)
    if len(uniques) < 2:
        raise ConfigError(f"group column {name!r} has a single group, so no group can be held "
                          "out; choose another --group-column or --split stratified")
    sizes = np.bincount(codes)
    order = rng.permutation(len(uniques))
    target = test_size * len(groups)
    cumulative = np.cumsum(sizes[order])
    n_groups = int(np.searchsorted(cumulative, target)) + 1
    n_groups = min(max(1, n_groups), len(uniques) - 1)  # keep at least one group to train on
    return np.flatnonzero(np.isin(codes, order[:n_groups]))


def _time_positions(times: pd.Series, test_size: float, name: str) -> np.ndarray:
    """The latest rows; rows without a time count as the oldest (they train, never test)."""
    if pd.api.types.is_numeric_dtype(times.dtype) or pd.api.types.is_datetime64_any_dtype(
            times.dtype):
        keys = times
    else:
        keys = pd.to_datetime(times, errors="coerce", format="mixed")
        if keys.notna().sum() < 0.9 * times.notna().sum():
            raise ConfigError(f"time column {name!r} does not hold dates or numbers (e.g. "
                              f"{times.dropna().iloc[0]!r}); choose another --time-column")
    order = np.argsort(keys.to_numpy(), kind="stable")
    missing = keys.isna().to_numpy()
    order = np.concatenate([order[missing[order]], order[~missing[order]]])
    return order[len(order) - _test_count(len(order), test_size):]


def train_test_split(frame: pd.DataFrame, task: Task, *, test_size: float = 0.2, seed: int = 0,
                     strategy: str = "stratified", group_column: str | None = None,
                     time_column: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into (train, test); rows keep their order and index.

    Args:
        strategy: "stratified" (classes in proportion on both sides; random for regression),
            "random", "group" (``group_column``: no group on both sides) or "time"
            (``time_column``: test holds the latest rows).

    Raises ConfigError for a bad strategy or size, ColumnNotFound for a missing group/time
    column, EmptyData when there are fewer than 2 rows.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown split strategy {strategy!r}; choose one of "
                          f"{', '.join(STRATEGIES)} (--split)")
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be between 0 and 1 (got {test_size:g}); "
                          "0.2 holds out a fifth of the rows")
    if len(frame) < 2:
        raise EmptyData("the table", f"it has {len(frame)} row(s), too few to hold out a test "
                        "split")
    rng = np.random.default_rng(seed)
    if strategy == "group":
        groups = _column(frame, group_column, strategy=strategy, flag="--group-column")
        test = _group_positions(groups, test_size, rng, str(group_column))
    elif strategy == "time":
        times = _column(frame, time_column, strategy=strategy, flag="--time-column")
        test = _time_positions(times, test_size, str(time_column))
    elif strategy == "stratified" and task.kind.is_classification and task.target in frame:
        test = _stratified_positions(frame[task.target].astype("str"), test_size, rng)
    else:
        test = _random_positions(len(frame), test_size, rng)
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[test] = True
    return frame.iloc[~is_test], frame.iloc[is_test]
