"""One class per item from its current labels: a reviewer's settling label wins, else the
majority; a tie is unsettled (the disagreements queue shows it) and gives no class."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from trainforge.store.labeling import LabelRecord


def consensus(labels: Iterable[LabelRecord]) -> dict[int, str]:
    """position → class, for each item with a settled or majority class (skips ignored)."""
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    settled: dict[int, str] = {}
    for record in labels:
        if record["label"] is None:
            continue
        if record["final"]:
            settled[record["position"]] = record["label"]
        votes[record["position"]][record["label"]] += 1
    chosen: dict[int, str] = {}
    for position, counts in votes.items():
        if position in settled:
            chosen[position] = settled[position]
            continue
        (best, n_best), *rest = counts.most_common(2)
        if not rest or rest[0][1] < n_best:
            chosen[position] = best
    return dict(sorted(chosen.items()))
