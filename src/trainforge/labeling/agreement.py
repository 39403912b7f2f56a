"""How much annotators agree beyond chance: Cohen's kappa when two people labelled, Fleiss'
kappa when more did (each item labelled by any of them)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sklearn.metrics import cohen_kappa_score


@dataclass(frozen=True)
class Agreement:
    """The kappa (None when too few items were labelled twice), which one, on how many items."""

    kappa: float | None
    method: str  # "cohen", "fleiss" or "none"
    n_items: int  # items the kappa is computed on


def agreement(labels: Iterable[tuple[int, str, str]]) -> Agreement:
    """The agreement of ``(item, annotator, class)`` labels.

    Two annotators: Cohen's kappa on the items both labelled. More: Fleiss' kappa on the
    items with the most common number of labels (at least two), as Fleiss' formula needs the
    same number of ratings per item.

    >>> agreement([(1, "ann", "a"), (1, "bob", "a"), (2, "ann", "b"), (2, "bob", "b")]).kappa
    1.0
    """
    by_item: dict[int, dict[str, str]] = defaultdict(dict)
    for item, annotator, label in labels:
        by_item[item][annotator] = label
    annotators = {a for votes in by_item.values() for a in votes}
    if len(annotators) == 2:
        first, second = sorted(annotators)
        both = [v for v in by_item.values() if len(v) == 2]
        if len(both) < 2:
            return Agreement(None, "cohen", len(both))
        kappa = cohen_kappa_score([v[first] for v in both], [v[second] for v in both])
        return Agreement(_finite(float(kappa)), "cohen", len(both))
    counts = Counter(len(v) for v in by_item.values() if len(v) >= 2)
    if not counts:
        return Agreement(None, "fleiss" if len(annotators) > 2 else "none", 0)
    raters = max(counts, key=lambda n: (counts[n], n))
    rated = [list(v.values()) for v in by_item.values() if len(v) == raters]
    return Agreement(fleiss_kappa(rated) if len(rated) >= 2 else None, "fleiss", len(rated))


def fleiss_kappa(ratings: list[list[str]]) -> float | None:
    """Fleiss' kappa of items each rated by the same number of raters (Fleiss 1971); None
    when chance agreement is total (every rating the same class)."""
    n_raters = len(ratings[0])
    classes = sorted({c for item in ratings for c in item})
    table = [[item.count(c) for c in classes] for item in ratings]
    n_items = len(table)
    p_class = [sum(row[j] for row in table) / (n_items * n_raters) for j in range(len(classes))]
    p_item = [(sum(x * x for x in row) - n_raters) / (n_raters * (n_raters - 1))
              for row in table]
    observed, expected = sum(p_item) / n_items, sum(p * p for p in p_class)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value  # NaN: one class only, kappa undefined
