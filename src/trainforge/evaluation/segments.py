"""Segments and anomalies in plain words, and the 2-D picture of them.

A segment is described by how it differs from the rest of the rows:

- a number by its *standardised mean difference* (Cohen's d: the gap between the segment's
  mean and the rest's, in pooled standard deviations);
- a category by its most over-represented level, with *Cohen's h* (the gap between two
  shares on the arcsine scale), which reads on the same scale as d: 0.2 small, 0.5 medium,
  0.8 large.

An anomaly is described by the features that make it stand out: a number by its *robust
z-score* (distance from the median in units of 1.4826 × the median absolute deviation, which
outliers cannot inflate as they inflate a standard deviation); a category by the rarity of its
level, as the z-score a two-sided normal tail of that share would have (1 % → 2.6).

Plots import matplotlib (see ``evaluation/plots.py``): import this module only to describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainforge.algorithms.model import FeatureSpec, coerce_frame
from trainforge.algorithms.unsupervised_results import AnomalyResult, ClusteringResult
from trainforge.data.dataset import ColumnKind
from trainforge.evaluation.plots import as_png, new_figure

MAX_POINTS = 2_000  # the projection plots draw a sample: quick, and still shows the shape
NOTABLE = 0.2  # effects (d, h, z-like) below this are not worth a word
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d", "#92400e", "#475569")


@dataclass(frozen=True)
class Trait:
    """One way a segment differs from the rest; ``effect`` is d or h, signed."""

    feature: str
    effect: float
    words: str  # "duration much higher (median 36 vs 18)"


@dataclass(frozen=True)
class SegmentProfile:
    segment: int  # -1: the rows HDBSCAN left in no segment
    n_rows: int
    share: float
    traits: tuple[Trait, ...]  # largest effect first
    typical: dict[str, str]  # each feature's median or most common level inside the segment
    summary: str


@dataclass(frozen=True)
class Driver:
    """A feature that makes a row stand out; ``z`` is a robust z-score or its rarity analogue."""

    feature: str
    z: float
    words: str  # "credit_amount 18,424 is 4.1 robust SDs above the median (2,320)"


@dataclass(frozen=True)
class AnomalyProfile:
    position: int  # the row's position in the table (0-based)
    score: float
    drivers: tuple[Driver, ...]
    summary: str


@dataclass(frozen=True)
class SegmentReport:
    segments: tuple[SegmentProfile, ...]
    plot_png: str  # base64 PNG: the rows on their first two principal components


@dataclass(frozen=True)
class AnomalyReport:
    anomalies: tuple[AnomalyProfile, ...]
    plot_png: str


def number_text(value: float) -> str:
    """A number as a person writes it: 82,000 / 36.5 / 0.125."""
    if not np.isfinite(value):
        return "missing"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10 or float(value).is_integer():
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.3g}"


def _magnitude(effect: float) -> str:
    size = abs(effect)
    return "much " if size >= 0.8 else "slightly " if size < 0.5 else ""


def _numbers(column: pd.Series, spec: FeatureSpec) -> np.ndarray:
    """Numbers as numbers; datetimes as days since 1970 (described back as dates)."""
    if spec.dtype == "datetime":
        stamps = pd.to_datetime(column, errors="coerce")
        days = (stamps - pd.Timestamp(0)) / pd.Timedelta(days=1)
        return np.asarray(days, dtype=np.float64)
    return np.asarray(pd.to_numeric(column, errors="coerce"), dtype=np.float64)


def _value_text(value: float, spec: FeatureSpec) -> str:
    if spec.dtype == "datetime" and np.isfinite(value):
        return str((pd.Timestamp(0) + pd.Timedelta(days=float(value))).date())
    return number_text(value)


def _is_number(spec: FeatureSpec) -> bool:
    return spec.kind in (ColumnKind.NUMERIC, ColumnKind.DATETIME)


def _levels(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), "(missing)").astype(str)


def _number_trait(name: str, spec: FeatureSpec, inside: np.ndarray,
                  outside: np.ndarray) -> Trait | None:
    inside, outside = inside[np.isfinite(inside)], outside[np.isfinite(outside)]
    if len(inside) < 2 or len(outside) < 2:
        return None
    pooled = np.sqrt(((len(inside) - 1) * inside.var(ddof=1) +
                      (len(outside) - 1) * outside.var(ddof=1)) /
                     (len(inside) + len(outside) - 2))
    if pooled <= 0:
        return None
    effect = float((inside.mean() - outside.mean()) / pooled)
    direction = "higher" if effect > 0 else "lower"
    # the median reads best, but says nothing when both sides share it (a column that is
    # mostly 0, such as capital gains): then the means show the gap the effect measures
    middle, of_inside, of_outside = "median", float(np.median(inside)), float(np.median(outside))
    if _value_text(of_inside, spec) == _value_text(of_outside, spec):
        middle, of_inside, of_outside = "mean", float(inside.mean()), float(outside.mean())
    return Trait(name, effect, f"{name} {_magnitude(effect)}{direction} ({middle} "
                               f"{_value_text(of_inside, spec)} vs "
                               f"{_value_text(of_outside, spec)})")


def _level_trait(name: str, inside: pd.Series, outside: pd.Series) -> Trait | None:
    """The level most over-represented inside the segment, by Cohen's h."""
    if len(inside) == 0 or len(outside) == 0:
        return None
    share_in = inside.value_counts(normalize=True)
    share_out = outside.value_counts(normalize=True).reindex(share_in.index, fill_value=0.0)
    h = 2 * np.arcsin(np.sqrt(share_in)) - 2 * np.arcsin(np.sqrt(share_out))
    level = str(h.idxmax())
    effect = float(h.max())
    if effect <= 0:
        return None
    return Trait(name, effect, f"{name} = {level!r} {_magnitude(effect)}more common "
                               f"({share_in[level]:.0%} vs {share_out[level]:.0%})")


def _typical(values: pd.Series, spec: FeatureSpec) -> str:
    if _is_number(spec):
        numbers = _numbers(values, spec)
        numbers = numbers[np.isfinite(numbers)]
        return _value_text(float(np.median(numbers)), spec) if len(numbers) else "missing"
    counts = _levels(values).value_counts()
    return f"{counts.index[0]} ({counts.iloc[0] / len(values):.0%})" if len(counts) else "—"


def describe_segments(frame: pd.DataFrame, labels: np.ndarray, *,
                      features: Sequence[FeatureSpec], max_traits: int = 3
                      ) -> list[SegmentProfile]:
    """Each segment's size, share, the features that set it apart and its typical values.

    ``frame`` holds the rows ``labels`` belong to (the training table, in order).
    """
    labels = np.asarray(labels)
    profiles = []
    for segment in sorted(set(labels.tolist()), key=lambda s: (s < 0, s)):
        inside = labels == segment
        traits: list[Trait] = []
        typical: dict[str, str] = {}
        for spec in features:
            column = frame[spec.name]
            typical[spec.name] = _typical(column[inside], spec)
            if _is_number(spec):
                numbers = _numbers(column, spec)
                trait = _number_trait(spec.name, spec, numbers[inside], numbers[~inside])
            else:
                levels = _levels(column)
                trait = _level_trait(spec.name, levels[inside], levels[~inside])
            if trait is not None and abs(trait.effect) >= NOTABLE:
                traits.append(trait)
        traits.sort(key=lambda t: -abs(t.effect))
        kept = tuple(traits[:max_traits])
        n_rows = int(inside.sum())
        profiles.append(SegmentProfile(segment=int(segment), n_rows=n_rows,
                                       share=n_rows / len(labels), traits=kept,
                                       typical=typical,
                                       summary=_segment_summary(int(segment), n_rows,
                                                                n_rows / len(labels), kept)))
    return profiles


def _segment_summary(segment: int, n_rows: int, share: float, traits: Sequence[Trait]) -> str:
    name = "Noise (no segment)" if segment < 0 else f"Segment {segment}"
    head = f"{name}: {n_rows:,} rows ({share:.0%})"
    if not traits:
        return f"{head}; close to the other rows on every feature."
    return f"{head}; compared with the other rows: " + "; ".join(t.words for t in traits) + "."


def _robust_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and a spread outliers cannot inflate: 1.4826 × MAD, else IQR / 1.349, else SD
    (a column that is mostly one value has no MAD or IQR, but its rare other values matter)."""
    present = values[np.isfinite(values)]
    if len(present) == 0:
        return 0.0, 0.0
    median = float(np.median(present))
    mad = 1.4826 * float(np.median(np.abs(present - median)))
    if mad > 0:
        return median, mad
    q1, q3 = np.percentile(present, [25, 75])
    iqr = float(q3 - q1) / 1.349
    return median, iqr if iqr > 0 else float(present.std())


def _row_drivers(frame: pd.DataFrame, position: int,
                 features: Sequence[FeatureSpec]) -> list[Driver]:
    from scipy.stats import norm

    drivers = []
    for spec in features:
        column = frame[spec.name]
        if _is_number(spec):
            numbers = _numbers(column, spec)
            median, spread = _robust_scale(numbers)
            value = float(numbers[position])
            if not np.isfinite(value) or spread <= 0:
                continue
            z = (value - median) / spread
            side = "above" if z > 0 else "below"
            drivers.append(Driver(spec.name, z, f"{spec.name} {_value_text(value, spec)} is "
                                  f"{abs(z):.1f} robust SDs {side} the median "
                                  f"({_value_text(median, spec)})"))
        else:
            levels = _levels(column)
            level = str(levels.iloc[position])
            share = float((levels == level).mean())
            z = float(norm.isf(share / 2))
            drivers.append(Driver(spec.name, z, f"{spec.name} = {level!r} is rare "
                                  f"({share:.1%} of rows)"))
    return sorted(drivers, key=lambda d: -abs(d.z))


def describe_anomalies(frame: pd.DataFrame, scores: np.ndarray, *,
                       features: Sequence[FeatureSpec], top: int = 10, max_drivers: int = 3
                       ) -> list[AnomalyProfile]:
    """The ``top`` highest-scoring rows, each with the features that drive its score.

    A driver counts when its |z| is at least 2; a row with none is described as an unusual
    combination, with its most unusual feature for a lead.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")[:top]
    profiles = []
    for position in order.tolist():
        drivers = _row_drivers(frame, position, features)
        strong = tuple(d for d in drivers if abs(d.z) >= 2)[:max_drivers]
        if strong:
            summary = f"Row {position}: " + "; ".join(d.words for d in strong) + "."
        elif drivers:
            summary = (f"Row {position}: no single feature is extreme; the combination is "
                       f"unusual (most unusual: {drivers[0].words}).")
        else:
            summary = f"Row {position}: its features are all missing."
        profiles.append(AnomalyProfile(position=int(position), score=float(scores[position]),
                                       drivers=strong or tuple(drivers[:1]), summary=summary))
    return profiles


def _projection(matrix: np.ndarray, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The picked rows on the first two principal components, and the variance each keeps."""
    from sklearn.decomposition import PCA

    if matrix.shape[1] < 2:  # one feature: it is the picture, against zero
        return np.column_stack([matrix[picked, 0], np.zeros(len(picked))]), np.array([1.0, 0])
    pca = PCA(n_components=2, random_state=0).fit(matrix)
    return pca.transform(matrix[picked]), pca.explained_variance_ratio_


def _sample(n_rows: int) -> np.ndarray:
    if n_rows <= MAX_POINTS:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(0).choice(n_rows, size=MAX_POINTS, replace=False))


def _axes_labels(figure: Figure, variance: np.ndarray) -> None:
    axes = figure.axes[0]
    axes.set_xlabel(f"1st principal component ({variance[0]:.0%} of variance)", fontsize=8)
    axes.set_ylabel(f"2nd ({variance[1]:.0%})", fontsize=8)


def segment_plot(matrix: np.ndarray, labels: np.ndarray) -> str:
    """The rows on their first two principal components, coloured by segment (base64 PNG)."""
    picked = _sample(len(matrix))
    points, variance = _projection(np.asarray(matrix, dtype=np.float64), picked)
    figure, axes = new_figure("Segments (2-D projection)", right_in=1.3)
    shown = np.asarray(labels)[picked]
    for segment in sorted(set(shown.tolist()), key=lambda s: (s < 0, s)):
        mine = shown == segment
        colour = "#9ca3af" if segment < 0 else PALETTE[segment % len(PALETTE)]
        axes.scatter(points[mine, 0], points[mine, 1], s=6, alpha=0.6, color=colour,
                     edgecolors="none", label="noise" if segment < 0 else f"segment {segment}")
    _axes_labels(figure, variance)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                markerscale=2.5)
    return as_png(figure)


def anomaly_plot(matrix: np.ndarray, is_anomaly: np.ndarray) -> str:
    """The rows on their first two principal components, anomalies in red (base64 PNG).
    Every anomaly is drawn, whatever the sample of ordinary rows."""
    flagged = np.asarray(is_anomaly, dtype=bool)
    picked = np.union1d(_sample(len(matrix)), np.flatnonzero(flagged))
    points, variance = _projection(np.asarray(matrix, dtype=np.float64), picked)
    figure, axes = new_figure("Anomalies (2-D projection)")
    marked = flagged[picked]
    axes.scatter(points[~marked, 0], points[~marked, 1], s=6, alpha=0.5, color="#9ca3af",
                 edgecolors="none", label="ordinary")
    axes.scatter(points[marked, 0], points[marked, 1], s=14, alpha=0.9, color="#dc2626",
                 edgecolors="none", label=f"anomaly ({int(flagged.sum()):,})")
    _axes_labels(figure, variance)
    axes.legend(fontsize=7, loc="best", frameon=False)
    return as_png(figure)


def describe_clustering(result: ClusteringResult, frame: pd.DataFrame) -> SegmentReport:
    """The segments of ``result`` (fitted on ``frame``) in words, and their picture."""
    specs = result.model.feature_specs
    coerced = coerce_frame(frame, specs)
    return SegmentReport(
        segments=tuple(describe_segments(coerced, result.labels, features=specs)),
        plot_png=segment_plot(result.model.transform(frame), result.labels))


def describe_anomaly_result(result: AnomalyResult, frame: pd.DataFrame, *,
                            top: int = 10) -> AnomalyReport:
    """The ``top`` anomalies of ``result`` (fitted on ``frame``) in words, and their picture."""
    specs = result.model.feature_specs
    coerced = coerce_frame(frame, specs)
    return AnomalyReport(
        anomalies=tuple(describe_anomalies(coerced, result.scores, features=specs, top=top)),
        plot_png=anomaly_plot(result.model.transform(frame), result.is_anomaly))
