"""Explained predictions of image and text networks: which pixels or words each rests on.

One function, ``network_attributions``, runs integrated gradients
(``algorithms.network_explanations``) for the SDK (``Model.explain_images`` and
``explain_texts``), ``trainforge predict --explain`` and ``POST …/predict?explain=true``; the
rest shapes its answer for each. What is explained is the network's score of the class it
predicts (its logit; a regressor's standardised output), and the attributions add up to that
score's move from a blank input (a black image; every word embedding zero), up to ``gap``.

A request's work is bounded before any is done: at most ``MAX_EXPLAINED_INPUTS`` images or
texts, and ``steps`` (one forward and one backward pass over them each) at most ``MAX_STEPS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from trainforge.algorithms.network_explanations import (
    NETWORKS,
    STEPS,
    Attribution,
    attribution_grid,
    explained_network,
    has_token_table,
    image_attributions,
    text_attributions,
)
from trainforge.algorithms.network_inputs import as_values
from trainforge.errors import NotExplainable, TooManyToExplain
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.signature import Columns
from trainforge.serving.uploads import with_image_bytes

MAX_EXPLAINED_INPUTS = 16  # a 224-pixel CNN takes ~0.1 s an image a step on a 2-core machine
MAX_STEPS = 64
IMAGE_GRID = 8  # an image's attributions are answered as at most 8 × 8 block sums
NETWORK_UNITS = "network_score"


class WordAttribution(BaseModel):
    word: str = Field(description="a word (token) of the text, as the network reads it")
    attribution: float = Field(description="how far it moved the score from the blank text")


class NetworkExplanation(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_: str | None = Field(alias="class", description=(
        "the class explained: the one predicted; null for a regressor's value"))
    score: float = Field(description=(
        "the network's score of it: a classifier's logit, a regressor's standardised output"))
    gap: float = Field(description=(
        "|sum of the attributions − (score − the blank input's score)|: the integral's error; "
        "more steps make it smaller"))
    words: list[WordAttribution] | None = Field(None, description=(
        "a text: its top_k words that raised the score most, largest first"))
    grid: list[list[float]] | None = Field(None, description=(
        f"an image: its attributions summed over a grid of at most {IMAGE_GRID} × "
        f"{IMAGE_GRID} blocks of the image as the network saw it (resized), rows from the "
        "top, columns from the left; positive raised the score, negative lowered it"))


NETWORK_EXPLANATION_FIELDS: dict[str, Any] = {
    "explanations": (list[list[NetworkExplanation]] | None, Field(None, description=(
        "with ?explain=true: per record, one entry: which words or image regions its "
        "prediction rests on (integrated gradients)"))),
    "explanation_units": (Literal["network_score"] | None, Field(None, description=(
        "what scores and attributions are in: the network's own score"))),
}


def network_of(loaded: LoadedModel) -> tuple[str, Any] | None:
    """What ``loaded`` reads ("image" or "text") and its network, when it is one network
    that integrated gradients explain; None otherwise."""
    return explained_network([member.estimator for member in loaded.tabular.members])


def network_refusal(loaded: LoadedModel) -> str | None:
    """Why ``loaded``, a network, cannot be explained; None when it can."""
    network = network_of(loaded)
    if network is not None and network[0] == "text" and not has_token_table(network[1]):
        return ("its text network is a frozen pretrained encoder (its sentence embeddings "
                "are computed once, so no word carries a gradient)")
    return None


def network_attributions(loaded: LoadedModel, values: Sequence[Any], *, reads: str,
                         steps: int = STEPS) -> list[Attribution]:
    """The integrated-gradients attributions of ``values`` (image paths or bytes, or texts)
    by ``loaded``'s network; NotExplainable when it is not a network that ``reads`` them."""
    network = network_of(loaded)
    if network is None or network[0] != reads:
        raise NotExplainable(loaded.ref, f"it is not a network that reads {reads} (integrated "
                                         f"gradients explain {', '.join(NETWORKS[reads])})")
    why = network_refusal(loaded)
    if why is not None:
        raise NotExplainable(loaded.ref, why)
    if reads == "image":
        return image_attributions(network[1], values, steps=steps)
    return text_attributions(network[1], [str(value) for value in values], steps=steps) or []


def network_values(loaded: LoadedModel, rows: pd.DataFrame) -> list[Any]:
    """What ``loaded``'s network reads of each of ``rows``: its image (path or bytes), or its
    text columns joined, as its member's preprocessor picks them."""
    model = loaded.tabular
    return as_values(model.members[0].preprocessor.transform(model.prepared(rows)))


def class_of(loaded: LoadedModel, attribution: Attribution) -> str | None:
    """The class ``attribution`` explains; None for a regressor's value."""
    return None if attribution.target < 0 else str(loaded.tabular.classes[attribution.target])


def check_explained_count(columns: Columns) -> None:
    """TooManyToExplain when ``columns`` hold more records than a request may explain."""
    if columns.n_rows > MAX_EXPLAINED_INPUTS:
        raise TooManyToExplain(MAX_EXPLAINED_INPUTS, n_records=columns.n_rows)


def explained_records(loaded: LoadedModel, columns: Columns, *, steps: int,
                      top_k: int) -> list[list[dict[str, Any]]]:
    """``?explain=true`` for a network: per record, one ``NetworkExplanation``. Raises
    TooManyToExplain (nothing computed) past ``MAX_EXPLAINED_INPUTS`` records."""
    check_explained_count(columns)
    network = network_of(loaded)
    assert network is not None  # the handler asks only for a network's explanations
    reads = network[0]
    values = network_values(loaded, pd.DataFrame(
        with_image_bytes(columns, loaded.tabular.features).values))
    answer: list[list[dict[str, Any]]] = []
    for attribution in network_attributions(loaded, values, reads=reads, steps=steps):
        entry: dict[str, Any] = {"class": class_of(loaded, attribution),
                                 "score": attribution.score, "gap": attribution.gap}
        if attribution.pixels is not None:
            entry["grid"] = attribution_grid(attribution.pixels, cells=IMAGE_GRID).tolist()
        else:
            entry["words"] = [{"word": word, "attribution": value}
                              for word, value in attribution.top_tokens(top_k)]
        answer.append([entry])
    return answer


def write_heat_map(attribution: Attribution, path: Path, *, title: str) -> Path:
    """A PNG of the image beside its attributions (red raised the score, blue lowered it)."""
    from matplotlib.figure import Figure

    assert attribution.pixels is not None and attribution.image is not None  # an image's
    figure = Figure(figsize=(6.4, 3.4), dpi=100)
    shown, heat = figure.subplots(1, 2)
    shown.imshow(attribution.image, cmap="gray")
    bound = float(np.abs(attribution.pixels).max()) or 1.0
    drawn = heat.imshow(attribution.pixels, cmap="bwr", vmin=-bound, vmax=bound)
    figure.colorbar(drawn, ax=heat, fraction=0.046)
    for axes, label in ((shown, "image"), (heat, "integrated gradients")):
        axes.set_title(label, fontsize=9)
        axes.set_axis_off()
    figure.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def maps_folder(output: Path) -> Path:
    """Where ``trainforge predict --explain`` draws an image folder's heat maps: beside
    ``output``, named after it (``scored.csv`` → ``scored.explained/``)."""
    return output.parent / f"{output.stem}.explained"


def explained_columns(loaded: LoadedModel, rows: pd.DataFrame, *, top_k: int, output: Path,
                      first_row: int) -> pd.DataFrame:
    """The columns ``trainforge predict --explain`` adds for a network, per row:
    ``explain.class`` (the class explained, the predicted one), ``explain.score`` (its score),
    and a text's ``explain.words`` (its ``top_k`` words, ``word +attribution`` joined by
    ``; ``, largest first) or an image's ``explain.map``: the PNG of the image beside its
    heat map, drawn in ``maps_folder(output)`` and named by row number (from ``first_row``,
    1-based) and file, as a path from ``output``'s folder."""
    network = network_of(loaded)
    assert network is not None  # predict_file asks only for a network's columns
    reads = network[0]
    values = network_values(loaded, rows)
    done: list[Attribution] = []
    for start in range(0, len(values), MAX_EXPLAINED_INPUTS):  # bounded memory
        done += network_attributions(loaded, values[start:start + MAX_EXPLAINED_INPUTS],
                                     reads=reads)
    classes = [class_of(loaded, a) for a in done]
    columns: dict[str, Any] = {"explain.class": classes,
                               "explain.score": [a.score for a in done]}
    if reads == "text":
        columns["explain.words"] = ["; ".join(f"{word} {value:+.4f}" for word, value
                                              in a.top_tokens(top_k)) for a in done]
        return pd.DataFrame(columns)
    maps = maps_folder(output)
    drawn = []
    for row, (value, attribution, label) in enumerate(zip(values, done, classes, strict=True),
                                                      start=first_row):
        name = Path(str(value)).name
        path = write_heat_map(attribution, maps / f"{row:06d}-{Path(name).stem}.png",
                              title=f"{name}: {label or 'value'}")
        drawn.append(str(path.relative_to(output.parent)))
    columns["explain.map"] = drawn
    return pd.DataFrame(columns)
