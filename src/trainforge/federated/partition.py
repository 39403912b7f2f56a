"""Split one table into the data holders of a simulated federation.

Three ways, as ``--partition`` spells them:

- ``iid``: every holder gets the same share of each class (stratified), so holders differ
  only by chance; regression rows are dealt at random;
- ``dirichlet:ALPHA``: each class is spread over the holders in proportions drawn from a
  Dirichlet(ALPHA) distribution, the usual model of holders whose data differ (label skew):
  0.1 gives holders dominated by one or two classes, 100 is close to iid. Regression targets
  are cut into ten quantile bins, which are spread the same way;
- ``by-column:COL``: the table's own holders, one value of COL (a hospital, a branch) per
  holder, the values dealt largest first to the holder with the fewest rows.

Seeded: the same table, scheme and seed give the same holders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainforge.data.targets import label_text
from trainforge.data.task import Task
from trainforge.errors import ColumnNotFound, ConfigError

MIN_CLIENT_ROWS = 10  # fewer rows than this cannot hold out a test share and still train
_DIRICHLET_DRAWS = 100  # redraws before saying the table is too small for the scheme
_REGRESSION_BINS = 10
_SCHEME = re.compile(r"(iid)|dirichlet:([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)|by-column:(.+)")


@dataclass(frozen=True)
class Scheme:
    """How to split: ``kind`` is "iid", "dirichlet" (with ``alpha``) or "by-column"."""

    kind: str
    alpha: float = 0.0
    column: str = ""

    def __str__(self) -> str:
        return {"iid": "iid", "dirichlet": f"dirichlet:{self.alpha:g}",
                "by-column": f"by-column:{self.column}"}[self.kind]


@dataclass(frozen=True)
class Holder:
    """One data holder's rows (positions in the table) and what they look like."""

    name: str
    rows: np.ndarray
    class_shares: dict[str, float]  # empty for regression

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def describe(self) -> str:
        shares = ", ".join(f"{label} {share:.0%}" for label, share in self.class_shares.items())
        return f"{self.name}: {self.n_rows:,} rows" + (f" ({shares})" if shares else "")


def parse_scheme(text: str) -> Scheme:
    """``iid``, ``dirichlet:0.5`` or ``by-column:hospital`` as a Scheme."""
    found = _SCHEME.fullmatch(text.strip())
    if found is None:
        raise ConfigError(f"--partition {text!r} is not a partition; write iid, "
                          "dirichlet:ALPHA (e.g. dirichlet:0.5) or by-column:COLUMN")
    if found[1]:
        return Scheme("iid")
    if found[2]:
        alpha = float(found[2])
        if alpha <= 0:
            raise ConfigError(f"--partition {text!r}: ALPHA must be above 0 (0.1 is very "
                              "skewed, 100 close to iid)")
        return Scheme("dirichlet", alpha=alpha)
    return Scheme("by-column", column=found[3])


def partition(frame: pd.DataFrame, task: Task, *, n_clients: int, scheme: Scheme,
              seed: int = 0, source: str = "the table") -> list[Holder]:
    """Split ``frame`` (target cleaned) into ``n_clients`` holders by ``scheme``.

    Raises ConfigError when a holder would get fewer than MIN_CLIENT_ROWS rows, and
    ColumnNotFound when the by-column column is not in the table.
    """
    if n_clients < 2:
        raise ConfigError(f"--clients {n_clients}: a federation needs at least 2 holders")
    if len(frame) < n_clients * MIN_CLIENT_ROWS:
        raise ConfigError(f"{source} has {len(frame):,} rows, too few for {n_clients} holders "
                          f"of at least {MIN_CLIENT_ROWS} rows each; use fewer --clients")
    rng = np.random.default_rng(seed)
    strata = _strata(frame, task)
    if scheme.kind == "by-column":
        groups = _by_column(frame, scheme.column, n_clients, source=source)
    elif scheme.kind == "dirichlet":
        groups = _dirichlet(strata, n_clients, scheme.alpha, rng, source=source)
    else:
        groups = _dealt(strata, n_clients, rng)
    labels = label_text(frame, task.target) if task.kind.is_classification else None
    return [Holder(name=f"client-{index}", rows=np.sort(rows),
                   class_shares=_shares(labels, rows, task.classes))
            for index, rows in enumerate(groups)]


def _strata(frame: pd.DataFrame, task: Task) -> pd.Series:
    """What each row is stratified by: its class, or its target's quantile bin."""
    if task.kind.is_classification:
        return label_text(frame, task.target).reset_index(drop=True)
    target = pd.to_numeric(frame[task.target], errors="coerce").reset_index(drop=True)
    return pd.qcut(target.rank(method="first"), _REGRESSION_BINS, labels=False).astype(str)


def _dealt(strata: pd.Series, n_clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Each stratum shuffled and dealt round-robin, so every holder gets its share of it."""
    dealt: list[list[int]] = [[] for _ in range(n_clients)]
    offset = 0
    for _, positions in sorted(strata.groupby(strata).indices.items()):
        shuffled = rng.permutation(positions)
        for index, row in enumerate(shuffled):
            dealt[(offset + index) % n_clients].append(int(row))
        offset += len(shuffled)  # the next stratum starts where this one stopped
    return [np.asarray(rows, dtype=np.int64) for rows in dealt]


def _dirichlet(strata: pd.Series, n_clients: int, alpha: float, rng: np.random.Generator, *,
               source: str) -> list[np.ndarray]:
    """Each stratum split in Dirichlet(alpha) proportions; drawn again until every holder has
    MIN_CLIENT_ROWS rows."""
    indices = sorted(strata.groupby(strata).indices.items())
    for _ in range(_DIRICHLET_DRAWS):
        groups: list[list[int]] = [[] for _ in range(n_clients)]
        for _, positions in indices:
            shares = rng.dirichlet(np.full(n_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(positions)).astype(int)
            for holder, part in enumerate(np.split(rng.permutation(positions), cuts)):
                groups[holder] += part.tolist()
        if min(len(rows) for rows in groups) >= MIN_CLIENT_ROWS:
            return [np.asarray(rows, dtype=np.int64) for rows in groups]
    raise ConfigError(f"dirichlet:{alpha:g} left a holder with fewer than {MIN_CLIENT_ROWS} "
                      f"rows of {source} in {_DIRICHLET_DRAWS} draws; use a larger ALPHA or "
                      "fewer --clients")


def _by_column(frame: pd.DataFrame, column: str, n_clients: int, *,
               source: str) -> list[np.ndarray]:
    if column not in frame.columns:
        raise ColumnNotFound(column, source, [str(c) for c in frame.columns],
                             "--partition by-column:COLUMN")
    values = frame[column].astype(str).where(frame[column].notna(), "(missing)")
    by_value = values.reset_index(drop=True).groupby(values.to_numpy()).indices
    if len(by_value) < n_clients:
        raise ConfigError(f"column {column!r} of {source} has {len(by_value)} values, fewer "
                          f"than --clients {n_clients}; each holder needs one value at least")
    groups: list[list[int]] = [[] for _ in range(n_clients)]
    for _, positions in sorted(by_value.items(), key=lambda item: (-len(item[1]), item[0])):
        smallest = min(range(n_clients), key=lambda holder: len(groups[holder]))
        groups[smallest] += positions.tolist()
    small = [index for index, rows in enumerate(groups) if len(rows) < MIN_CLIENT_ROWS]
    if small:
        raise ConfigError(f"by-column:{column} leaves client-{small[0]} with "
                          f"{len(groups[small[0]])} rows of {source}, under {MIN_CLIENT_ROWS}; "
                          "use fewer --clients")
    return [np.asarray(rows, dtype=np.int64) for rows in groups]


def _shares(labels: pd.Series | None, rows: np.ndarray,
            classes: tuple[str, ...]) -> dict[str, float]:
    if labels is None or len(rows) == 0:
        return {}
    counts = labels.iloc[rows].value_counts()
    return {label: float(counts.get(label, 0)) / len(rows) for label in classes}
