"""A stand-in for ``trainforge.labeling.active`` (built in another branch) while it is not
here: the same four functions, with a word-count model. Loaded by ``conftest.py`` only when
the real module cannot be imported; never part of src."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from trainforge.errors import TrainforgeError

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class QuickModel:
    words: dict[str, Counter[str]]  # class → word counts


def _text(items: pd.DataFrame, position: int) -> str:
    row = items.loc[position]
    return str(row["text"]) if "text" in items.columns else " ".join(map(str, row.tolist()))


def fit_quick_model(items: pd.DataFrame, labels: pd.Series, *, modality: str,
                    seed: int = 0) -> QuickModel:
    known = labels.dropna()
    if known.nunique() < 2:
        raise TrainforgeError("needs two classes")
    words: dict[str, Counter[str]] = {}
    for position, label in known.items():
        words.setdefault(str(label), Counter()).update(_WORD.findall(_text(items, position)))
    return QuickModel(words)


def _margin(model: QuickModel, text: str) -> float:
    scores = sorted((sum(c[w] for w in _WORD.findall(text)) for c in model.words.values()),
                    reverse=True)
    return float(scores[0] - scores[1])


def next_items(model: QuickModel, items: pd.DataFrame, labelled: pd.Series, *, size: int,
               strategy: str = "margin") -> list[int]:
    open_items = [p for p in items.index if pd.isna(labelled.get(p))]
    return sorted(open_items, key=lambda p: (_margin(model, _text(items, p)), p))[:size]


def cv_score(items: pd.DataFrame, labels: pd.Series, *, modality: str) -> float | None:
    known = labels.dropna()
    return None if len(known) < 4 else 0.5 + min(len(known), 50) / 100


def important_words(model: QuickModel, text: str, *, top: int = 8
                    ) -> list[tuple[int, int, float]]:
    known = {w for c in model.words.values() for w in c}
    return [(m.start(), m.end(), 1.0) for m in _WORD.finditer(text) if m.group() in known][:top]
