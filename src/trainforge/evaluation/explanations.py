"""The report's global explanations: mean |SHAP| per input column and dependence plots for the
top columns, from the per-row contributions (``algorithms.contributions``) of a bounded sample
of the test split, computed at training time.

What is summarised: a binary classifier's probability of its positive class, a regressor's
value, and for a multiclass model each row's contributions toward the class it predicts (the
bars are then the mean over rows of |contribution to the predicted class|).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainforge.algorithms.contributions import Contributions, ModelExplainer, member_methods
from trainforge.algorithms.model import TabularModel, coerce_frame

# test rows explained for the report, by the costliest method a member needs: a booster's
# TreeSHAP is cheap; a 300-tree forest's (shap) or a permutation costs ~0.1 s a row
MAX_ROWS = {"booster": 300, "forest": 60, "permutation": 30}
CHUNK_ROWS = 5  # rows explained first, to time a row before the clock sizes the rest
TOP_DEPENDENCE = 3  # columns drawn as dependence plots
_COLOUR = "#2563eb"  # the report's accent, as its other plots draw it


@dataclass(frozen=True)
class GlobalExplanation:
    """``importance``: (column, mean |contribution|), largest first; ``dependence``: column →
    a base64 PNG of each row's value against its contribution; ``explained``: what the
    contributions are of; ``n_rows``: the test rows explained."""

    explained: str
    units: str
    n_rows: int
    importance: list[tuple[str, float]]
    dependence: dict[str, str] = field(default_factory=dict)

    def for_card(self) -> dict[str, Any]:
        """``explanations.json`` in the package, which the model card reads: the columns by
        mean |contribution| (the plots stay in the report)."""
        return {"explained": self.explained, "units": self.units, "n_rows": self.n_rows,
                "global": [{"feature": column, "mean_abs": float(value)}
                           for column, value in self.importance]}


def global_explanation(model: TabularModel, rows: pd.DataFrame, *,
                       background: pd.DataFrame | None = None, seed: int = 0,
                       plots: bool = True,
                       deadline: float | None = None) -> GlobalExplanation | None:
    """The global view of ``model`` on a seeded sample of ``rows`` (the test split), or None
    for a model with no contributions (clustering, anomaly, images). ``background``: rows
    (the training split) for members explained by permutation. ``deadline`` (monotonic
    clock): the rows explained by then, at least the first ``CHUNK_ROWS``."""
    if not model.task.kind.is_supervised or any(s.dtype == "image" for s in model.features):
        return None
    bound = min(MAX_ROWS[method] for method in member_methods(model))
    sample = rows.sample(n=min(bound, len(rows)), random_state=seed) if len(rows) else rows
    if len(sample) == 0:
        return None
    if background is not None:
        background = background.sample(n=min(len(background), 100), random_state=seed)
    contributions = _explain_until(ModelExplainer(model, background=background), sample,
                                   deadline=deadline)
    sample = sample.iloc[:len(contributions.values)]
    values = contributions.values
    if len(contributions.outputs) == 2:
        chosen, explained = values[:, 1], f"probability of {contributions.outputs[1]!r}"
    elif len(contributions.outputs) > 2:
        predicted = contributions.explained.argmax(axis=1)
        chosen, explained = (values[np.arange(len(values)), predicted],
                             "probability of the predicted class")
    else:
        chosen, explained = values[:, 0], "predicted value"
    mean_abs = np.abs(chosen).mean(axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    importance = [(contributions.features[i], float(mean_abs[i])) for i in order]
    dependence = {}
    if plots:
        shown = coerce_frame(sample, model.features).reset_index(drop=True)
        for i in order[:TOP_DEPENDENCE]:
            name = contributions.features[i]
            dependence[name] = _dependence_plot(name, shown[name], chosen[:, i],
                                                explained=explained)
    return GlobalExplanation(explained=explained, units=contributions.units,
                             n_rows=len(sample), importance=importance, dependence=dependence)


def _explain_until(explainer: ModelExplainer, rows: pd.DataFrame, *,
                   deadline: float | None) -> Contributions:
    """``rows`` explained until ``deadline``: the first ``CHUNK_ROWS`` measure the cost of a
    row, then each call takes as many rows as the time left holds (all of them with no
    deadline). Every call pays the blend's set-up (its inputs coerced, each member's
    preprocessing), so fewer, larger calls cost less than the same rows five at a time; a
    blend with members explained by permutation costs ~0.3 s a row on 2 cores, more than a
    short budget holds."""
    started = time.monotonic()
    chunks = [explainer.explain(rows.iloc[:CHUNK_ROWS])]
    done = min(CHUNK_ROWS, len(rows))
    while done < len(rows):
        size = len(rows) - done
        if deadline is not None:
            now = time.monotonic()
            size = min(size, int((deadline - now) / max((now - started) / done, 1e-9)))
        if size < 1:
            break
        chunks.append(explainer.explain(rows.iloc[done:done + size]))
        done += size
    if len(chunks) == 1:
        return chunks[0]
    return dataclasses.replace(
        chunks[0], values=np.concatenate([c.values for c in chunks]),
        base_values=np.concatenate([c.base_values for c in chunks]))


def _dependence_plot(name: str, values: pd.Series, contributions: np.ndarray, *,
                     explained: str) -> str:
    from trainforge.evaluation import plots  # matplotlib: only when a report is drawn

    figure, axes = plots.new_figure(f"Dependence on {name}", bottom_in=0.9, left_in=0.8)
    numeric = pd.api.types.is_numeric_dtype(values)
    if numeric:
        axes.scatter(values.to_numpy(dtype=np.float64), contributions, s=8, alpha=0.6,
                     color=_COLOUR)
    else:
        levels = _levels(values)
        at = {level: position for position, level in enumerate(levels)}
        jitter = np.random.default_rng(0).uniform(-0.2, 0.2, len(values))
        axes.scatter([at.get(str(v), len(levels) - 1) + j
                      for v, j in zip(values.tolist(), jitter, strict=True)],
                     contributions, s=8, alpha=0.6, color=_COLOUR)
        axes.set_xticks(range(len(levels)), levels, rotation=45, ha="right", fontsize=7)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xlabel(name)
    axes.set_ylabel(f"contribution to the {explained}", fontsize=8)
    return plots.as_png(figure)


def _levels(values: pd.Series, limit: int = 12) -> Sequence[str]:
    """The most frequent levels, the rest as "other" (a dependence plot stays readable)."""
    counts = values.astype(object).where(values.notna(), "missing").astype(str).value_counts()
    top = [str(level) for level in counts.index[:limit]]
    return [*top, "other"] if len(counts) > limit else top
