"""The words of a text that a text project's quick model weighs most, from a plain table of
the model's numbers per word (``WordWeights``): what the labeling page highlights.

The table is what the refit process sends the server (as JSON, never a pickle), so the page
highlights a text with a dictionary lookup per word, without the model and without waiting.
It gives what the model itself gives: each word's TF-IDF value (sublinear term frequency
times the word's idf, the text's vector scaled to unit length, as ``TfidfVectorizer`` does)
times its coefficient toward the class the model predicts for the text.

    >>> weights = WordWeights(classes=("ham", "spam"), intercept=(0.0,),
    ...                       words={"free": (1.0, (2.0,)), "lunch": (1.0, (-2.0,))})
    >>> weights.spans("Free lunch, free!")
    [(0, 4, 1.722074), (12, 16, 1.722074)]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's own token pattern
TOP_WORDS = 8  # highlighted per text: more and the marks stop pointing at anything


@dataclass(frozen=True)
class WordWeights:
    """A TF-IDF + logistic regression model as numbers per word.

    ``words``: word → (idf, coefficients), one coefficient per row of the model's ``coef_``
    (a two-class model has one row, pointing to its second class).
    """

    classes: tuple[str, ...]
    intercept: tuple[float, ...]
    words: dict[str, tuple[float, tuple[float, ...]]]

    @classmethod
    def of(cls, vectorizer: Any, classifier: Any) -> WordWeights:
        """The table of a fitted ``TfidfVectorizer(sublinear_tf=True)`` and the
        ``LogisticRegression`` fitted on its output."""
        coefficients = classifier.coef_.T.tolist()  # one row per word
        idf = vectorizer.idf_.tolist()
        words = {str(word): (float(idf[column]), tuple(float(c) for c in coefficients[column]))
                 for word, column in vectorizer.vocabulary_.items()}
        return cls(classes=tuple(str(c) for c in classifier.classes_),
                   intercept=tuple(float(b) for b in classifier.intercept_), words=words)

    def to_dict(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "intercept": list(self.intercept),
                "words": {w: [idf, list(c)] for w, (idf, c) in self.words.items()}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> WordWeights:
        return cls(classes=tuple(str(c) for c in raw["classes"]),
                   intercept=tuple(float(b) for b in raw["intercept"]),
                   words={str(w): (float(v[0]), tuple(float(c) for c in v[1]))
                          for w, v in raw["words"].items()})

    def spans(self, text: str, *, top: int = TOP_WORDS) -> list[tuple[int, int, float]]:
        """(start, end, weight) of each occurrence in ``text`` of the ``top`` words that push
        the model hardest towards the class it predicts for ``text``, heaviest first."""
        found = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
        values = self._tfidf(Counter(w for _, _, w in found))
        if not values or top <= 0:
            return []
        toward = self._toward_predicted(values)
        pushes = {w: round(v * toward(self.words[w][1]), 6) for w, v in values.items()}
        kept = dict(sorted(((w, p) for w, p in pushes.items() if p > 0),
                           key=lambda wp: (-wp[1], wp[0]))[:top])
        spans = [(start, end, kept[word]) for start, end, word in found if word in kept]
        return sorted(spans, key=lambda s: (-s[2], s[0]))

    def _tfidf(self, counts: Counter[str]) -> dict[str, float]:
        raw = {w: (1.0 + math.log(n)) * self.words[w][0] for w, n in counts.items()
               if w in self.words}
        norm = math.sqrt(sum(v * v for v in raw.values())) or 1.0
        return {w: v / norm for w, v in raw.items()}

    def _toward_predicted(self, values: dict[str, float]
                          ) -> Callable[[tuple[float, ...]], float]:
        """The function giving a word's coefficient toward the predicted class."""
        scores = [b + sum(v * self.words[w][1][row] for w, v in values.items())
                  for row, b in enumerate(self.intercept)]
        if len(scores) == 1:  # two classes: positive pushes to the second
            sign = 1.0 if scores[0] > 0 else -1.0
            return lambda coefficients: sign * coefficients[0]
        predicted = max(range(len(scores)), key=scores.__getitem__)
        return lambda coefficients: coefficients[predicted]
