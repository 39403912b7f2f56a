"""The words table the labeling page highlights with gives what the quick model gives."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from trainforge.labeling import highlights
from trainforge.labeling.active import fit_quick_model, word_weights

TEXTS = ["win cash prize now", "cash prize win", "free cash to win", "see you at lunch",
         "lunch at noon then", "meet you at noon", "call me about the report",
         "the report is due", "send the report now"]


def model_weights(model, text: str) -> dict[str, float]:
    """Each word's TF-IDF value times its coefficient toward the predicted class, by sklearn."""
    vectorizer, classifier = model.features.vectorizer, model.classifier
    vector = vectorizer.transform([text]).toarray()[0]
    predicted = int(np.argmax(classifier.predict_proba(vector[None, :])[0]))
    coefficients = classifier.coef_
    toward = (coefficients[0] * (1 if predicted == 1 else -1) if coefficients.shape[0] == 1
              else coefficients[predicted])
    return {word: round(float(vector[column] * toward[column]), 6)
            for word, column in vectorizer.vocabulary_.items()
            if vector[column] * toward[column] > 0}


def test_the_docstring_example_runs():
    assert doctest.testmod(highlights).failed == 0


@pytest.mark.parametrize("classes", [["spam"] * 3 + ["ham"] * 3,
                                     ["spam"] * 3 + ["ham"] * 3 + ["work"] * 3])
@pytest.mark.parametrize("text", ["You WIN free cash, cash now", "lunch report at noon",
                                  "nothing known here"])
def test_the_words_table_weighs_each_word_as_the_model_does(classes: list[str], text: str):
    items = pd.DataFrame({"text": TEXTS[:len(classes)]})
    model = fit_quick_model(items, pd.Series(classes, dtype=object), modality="text")
    spans = word_weights(model).spans(text, top=100)
    assert {text[s:e].lower(): w for s, e, w in spans} == pytest.approx(
        model_weights(model, text), abs=1e-5)


def test_the_words_table_survives_its_trip_as_json():
    items = pd.DataFrame({"text": TEXTS[:6]})
    model = fit_quick_model(items, pd.Series(["spam"] * 3 + ["ham"] * 3, dtype=object),
                            modality="text")
    weights = word_weights(model)
    assert highlights.WordWeights.from_dict(weights.to_dict()) == weights
