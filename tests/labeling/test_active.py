from __future__ import annotations

import doctest
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from trainforge.errors import ColumnNotFound, ImageUnreadable, InvalidField, NotEnoughLabels
from trainforge.labeling import active
from trainforge.labeling.active import cv_score, fit_quick_model, important_words, next_items

SPAM = ["win cash prize now", "cash prize win", "free cash to win",
        "see you at lunch", "lunch at noon then", "meet you at noon"]
SURE_SPAM, UNSURE, SURE_HAM = "win cash prize", "cash prize at noon", "lunch at noon"


def spam_project(unlabelled: list[str]) -> tuple[active.QuickModel, pd.DataFrame, pd.Series]:
    """Three spam and three ham texts labelled (ids 0-5), then ``unlabelled`` (ids 6-)."""
    items = pd.DataFrame({"text": SPAM + unlabelled})
    labels = pd.Series(["spam"] * 3 + ["ham"] * 3 + [None] * len(unlabelled), dtype=object)
    return fit_quick_model(items, labels, modality="text"), items, labels


def line(xs: list[float], labels: list[str | None]) -> tuple[pd.DataFrame, pd.Series]:
    """A table: "low" left of 0, "high" right, and a category (with gaps) that carries
    nothing."""
    colours = ["red", "blue", None]
    items = pd.DataFrame({"x": xs, "colour": [colours[i % 3] for i in range(len(xs))]})
    return items, pd.Series(labels, dtype=object)


def grey_image(path: Path, value: int) -> str:
    Image.new("L", (8, 8), value).save(path)
    return str(path)


def test_the_docstring_example_runs():
    assert doctest.testmod(active).failed == 0


@pytest.mark.parametrize("strategy", ["margin", "entropy"])
def test_the_item_the_model_is_least_sure_of_comes_first(strategy: str):
    model, items, labels = spam_project([SURE_SPAM, UNSURE, SURE_HAM])
    assert next_items(model, items, labels, size=3, strategy=strategy)[0] == 7


def test_items_follow_from_least_to_most_sure():
    model, items, labels = spam_project([SURE_SPAM, "win lunch", UNSURE, SURE_HAM,
                                         "win at lunch then"])
    assert next_items(model, items, labels, size=5) == [8, 7, 10, 9, 6]


def test_a_batch_holds_one_of_several_copies_of_an_uncertain_item():
    model, items, labels = spam_project(["win lunch"] * 20 + [SURE_SPAM, UNSURE, SURE_HAM,
                                                              "win at lunch then"])
    chosen = next_items(model, items, labels, size=4)
    assert items.loc[chosen, "text"].tolist().count("win lunch") == 1


def test_labelled_items_never_come_back():
    model, items, labels = spam_project([SURE_SPAM, UNSURE])
    assert sorted(next_items(model, items, labels, size=10)) == [6, 7]


def test_a_boolean_mask_can_say_which_items_are_labelled():
    model, items, labels = spam_project([SURE_SPAM, UNSURE])
    assert sorted(next_items(model, items, labels.notna(), size=10)) == [6, 7]


def test_an_item_a_boolean_mask_leaves_out_is_unlabelled():
    model, items, _ = spam_project([SURE_SPAM, UNSURE])
    mask_without_7 = pd.Series([True] * 6 + [False], index=range(7))
    assert sorted(next_items(model, items, mask_without_7, size=10)) == [6, 7]


def test_the_same_labels_give_the_same_order_every_time():
    words = np.random.default_rng(0).choice(" ".join(SPAM).split(), size=(200, 4))
    unlabelled = [" ".join(row) for row in words]
    assert next_items(*spam_project(unlabelled), size=10) == next_items(
        *spam_project(unlabelled), size=10)


def test_a_table_item_where_the_labels_disagree_comes_first():
    xs = [-3.0, -2.0, -1.0] * 2 + [1.0, 2.0, 3.0] * 2 + [0.0] * 6 + [-2.5, 0.0, 2.5]
    items, labels = line(xs, ["low"] * 6 + ["high"] * 6 + ["low", "high"] * 3 + [None] * 3)
    model = fit_quick_model(items, labels, modality="table")
    assert next_items(model, items, labels, size=1) == [19]


def test_labels_of_one_class_are_not_enough():
    items, labels = line([1.0, 2.0, 3.0], ["high", "high", None])
    with pytest.raises(NotEnoughLabels, match=r"at least 2 classes.*2 label\(s\), all 'high'"):
        fit_quick_model(items, labels, modality="table")


def test_an_unknown_strategy_is_refused_naming_it_and_the_known_ones():
    model, items, labels = spam_project([UNSURE])
    with pytest.raises(InvalidField, match=r"strategy: 'smallest' is not one of margin, entropy"):
        next_items(model, items, labels, size=1, strategy="smallest")


def test_an_unknown_modality_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(InvalidField, match=r"modality: 'audio' is not one of text, image, table"):
        fit_quick_model(pd.DataFrame({"text": SPAM}), pd.Series(["spam", "ham"] * 3),
                        modality="audio")


def test_image_items_are_ordered_by_their_pixels(tmp_path: Path):
    shades = [0, 20, 40, 215, 235, 255, 10, 128, 245]
    items = pd.DataFrame({"path": [grey_image(tmp_path / f"{i}.png", v)
                                   for i, v in enumerate(shades)]})
    labels = pd.Series(["dark"] * 3 + ["light"] * 3 + [None] * 3)
    model = fit_quick_model(items, labels, modality="image")
    assert next_items(model, items, labels, size=1) == [7]


def test_a_text_project_without_a_text_column_is_refused_naming_it():
    with pytest.raises(ColumnNotFound, match=r"column 'text' is not in the project's items"):
        fit_quick_model(pd.DataFrame({"body": SPAM}), pd.Series(["spam", "ham"] * 3),
                        modality="text")


def test_a_missing_image_file_is_named(tmp_path: Path):
    items = pd.DataFrame({"path": [grey_image(tmp_path / "a.png", 0), str(tmp_path / "gone.png")]})
    with pytest.raises(ImageUnreadable, match=r"gone\.png is not a readable image \(no such file"):
        fit_quick_model(items, pd.Series(["dark", "light"]), modality="image")


def test_a_refit_reads_no_image_file_again(tmp_path: Path):
    items = pd.DataFrame({"path": [grey_image(tmp_path / f"{v}.png", v) for v in (0, 255)]})
    fit_quick_model(items, pd.Series(["dark", "light"]), modality="image")
    image = Path(items["path"][0])
    seen = os.stat(image)
    image.write_bytes(b"x" * seen.st_size)  # no longer an image; same size and time
    os.utime(image, ns=(seen.st_atime_ns, seen.st_mtime_ns))
    assert fit_quick_model(items, pd.Series(["dark", "light"]), modality="image").classes == (
        "dark", "light")


def test_an_image_file_changed_since_it_was_read_is_read_again(tmp_path: Path):
    items = pd.DataFrame({"path": [grey_image(tmp_path / f"{v}.png", v) for v in (0, 255)]})
    fit_quick_model(items, pd.Series(["dark", "light"]), modality="image")
    Path(items["path"][0]).write_bytes(b"not an image")
    with pytest.raises(ImageUnreadable, match=r"0\.png is not a readable image"):
        fit_quick_model(items, pd.Series(["dark", "light"]), modality="image")


def test_important_words_point_at_the_words_of_the_predicted_class():
    model, _, _ = spam_project([])
    text = "You WIN free cash, see"
    assert sorted(text[start:end] for start, end, _ in important_words(model, text)) == [
        "WIN", "cash", "free"]


def test_important_words_come_heaviest_first_and_keep_only_the_top():
    model, _, _ = spam_project([])
    spans = important_words(model, "win free cash prize now", top=2)
    assert len(spans) == 2 and spans[0][2] >= spans[1][2] > 0


def test_an_image_or_table_model_has_no_important_words():
    items, labels = line([-1.0, 1.0], ["low", "high"])
    model = fit_quick_model(items, labels, modality="table")
    assert important_words(model, "win cash") == []


def test_the_cv_score_waits_for_two_labels_of_each_class():
    items, labels = line([-2.0, -1.0, 1.0], ["low", "low", "high"])
    assert cv_score(items, labels, modality="table") is None


def test_the_cv_score_is_the_macro_f1_of_held_out_labels():
    items, labels = line([-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0, 0.0],
                         ["low"] * 4 + ["high"] * 4 + [None])
    assert cv_score(items, labels, modality="table") == 1.0
