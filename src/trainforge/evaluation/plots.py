"""The report's plots, each drawn with matplotlib's Agg canvas and returned as a base64 PNG.

Import this module only when drawing: it imports matplotlib (about 0.3 s), which
``trainforge --help`` must never pay for. Figures are built as ``Figure`` objects, never
through pyplot, so drawing keeps no global state and is safe in a server thread.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn import metrics as skm

from trainforge.data.metrics import binary_average_precision, binary_roc_auc

_SIZE = (4.8, 3.5)  # inches; at _DPI it is 480 × 350 px, two plots side by side in the report
_DPI = 100
_MAX_POINTS = 2000  # scatter plots subsample to stay quick and light
_MAX_CURVES = 12  # one-vs-rest curves drawn at most (the largest classes)
_ACCENT = "#2563eb"


_CHAR_IN = 0.06  # the width of one 7-point tick-label character, in inches


def new_figure(title: str, *, size: tuple[float, float] = _SIZE, left_in: float = 0.65,
            bottom_in: float = 0.5, right_in: float = 0.15) -> tuple[Figure, Axes]:
    """A figure with fixed margins (in inches): a layout engine would draw every plot twice."""
    figure = Figure(figsize=size, dpi=_DPI)
    width, height = size
    figure.subplots_adjust(left=left_in / width, right=1 - right_in / width,
                           bottom=bottom_in / height, top=1 - 0.35 / height)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=10)
    axes.tick_params(labelsize=8)
    axes.grid(alpha=0.25)
    return figure, axes


def as_png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _curve_classes(y_true: np.ndarray, proba: np.ndarray) -> list[int]:
    """Binary: only the positive class (classes[1]); else the largest classes present."""
    if proba.shape[1] == 2:
        return [1]
    counts = np.bincount(y_true, minlength=proba.shape[1])
    ordered = [int(c) for c in np.argsort(-counts, kind="stable") if 0 < counts[c] < len(y_true)]
    return ordered[:_MAX_CURVES]


def _ovr_title(name: str, shown: Sequence[int], n_classes: int) -> str:
    if n_classes == 2:
        return name
    if len(shown) < n_classes:
        return f"{name} (one vs rest, largest {len(shown)} of {n_classes} classes)"
    return f"{name} (one vs rest)"


def _legend_room(shown: Sequence[int], classes: Sequence[str], suffix: str) -> float:
    """Inches to keep right of the plot for a legend placed beside it (see ``_legend``)."""
    if len(shown) + 1 <= 5:
        return 0.15
    longest = max(len(classes[c]) for c in shown) + len(suffix) + 1
    return 0.45 + 0.052 * longest


def _legend(axes: Axes, n_curves: int) -> None:
    if n_curves <= 5:
        axes.legend(fontsize=7, loc="lower right", frameon=False)
    else:  # many one-vs-rest curves: the legend goes beside the plot, not over the curves
        axes.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def roc_curves(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> str:
    """ROC curve of the positive class (binary), or one-vs-rest curves per class."""
    shown = _curve_classes(y_true, proba)
    figure, axes = new_figure(_ovr_title("ROC curve", shown, proba.shape[1]),
                           right_in=_legend_room(shown, classes, "(AUC 0.000)"))
    for code in shown:
        positive = y_true == code
        fpr, tpr, _ = skm.roc_curve(positive, proba[:, code])
        auc = binary_roc_auc(positive, proba[:, code])
        axes.plot(fpr, tpr, lw=1.6 if len(shown) == 1 else 1.0, label=f"{classes[code]} (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="chance")
    axes.set_xlabel("false positive rate", fontsize=8)
    axes.set_ylabel("true positive rate", fontsize=8)
    _legend(axes, len(shown) + 1)
    return as_png(figure)


def pr_curves(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> str:
    """Precision-recall curve of the positive class (binary), or one per class."""
    shown = _curve_classes(y_true, proba)
    figure, axes = new_figure(_ovr_title("Precision-recall curve", shown, proba.shape[1]),
                           right_in=_legend_room(shown, classes, "(AP 0.000)"))
    for code in shown:
        positive = y_true == code
        # only the corners of the steps: the points between them draw nothing the eye sees
        precision, recall, _ = skm.precision_recall_curve(positive, proba[:, code],
                                                          drop_intermediate=True)
        ap = binary_average_precision(positive, proba[:, code])
        axes.step(recall, precision, where="post", lw=1.6 if len(shown) == 1 else 1.0, label=f"{classes[code]} (AP {ap:.3f})")
    if len(shown) == 1:
        rate = float(np.mean(y_true == shown[0]))
        axes.axhline(rate, ls="--", color="grey", lw=0.8, label=f"chance ({rate:.2f})")
    axes.set_xlabel("recall", fontsize=8)
    axes.set_ylabel("precision", fontsize=8)
    axes.set_ylim(0, 1.02)
    _legend(axes, len(shown) + 1)
    return as_png(figure)


def confusion_matrix(counts: np.ndarray, classes: Sequence[str]) -> str:
    """Counts per (true, predicted) class; colour is the share of each true class (row)."""
    k = len(classes)
    side = min(3.0 + 0.28 * k, 7.0)
    labels = [c if len(c) <= 14 else c[:13] + "…" for c in classes]
    label_in = 0.35 + _CHAR_IN * max(len(c) for c in labels)
    figure, axes = new_figure("Confusion matrix (colour: share of the true class)",
                           size=(max(side + label_in, 3.6), side + label_in * 0.7),
                           left_in=label_in + 0.1, bottom_in=label_in * 0.7 + 0.3, right_in=0.2)
    axes.grid(False)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(k), labels, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center",
                    fontsize=7 if k > 8 else 8)
    axes.set_yticks(range(k), labels, fontsize=7 if k > 8 else 8)
    axes.set_xlabel("predicted", fontsize=8)
    axes.set_ylabel("true", fontsize=8)
    if k <= 15:
        for (row, column), count in np.ndenumerate(counts):
            axes.text(column, row, str(count), ha="center", va="center",
                      fontsize=9 if k <= 4 else 8 if k <= 8 else 7,
                      color="white" if shares[row, column] > 0.6 else "black")
    return as_png(figure)


def calibration(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str],
                *, n_bins: int = 10) -> str:
    """Reliability curve: predicted probability against the observed frequency, per bin.

    Binary: the probability of classes[1]. Multiclass: the top class's probability against
    how often the top class is right.
    """
    if proba.shape[1] == 2:
        confidence, hit = proba[:, 1], (y_true == 1).astype("float64")
        title, label = "Calibration", f"P({classes[1]})"
    else:
        confidence = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == y_true).astype("float64")
        title, label = "Calibration (top class)", "top-class probability"
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    mean_confidence = np.bincount(bins, weights=confidence, minlength=n_bins)[filled] / counts[filled]
    observed = np.bincount(bins, weights=hit, minlength=n_bins)[filled] / counts[filled]
    figure, axes = new_figure(title)
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="perfectly calibrated")
    axes.plot(mean_confidence, observed, color=_ACCENT, lw=1.2)
    # a dot's area is its bin's share of rows: a wild point from a near-empty bin looks small
    sizes = 6 + 240 * counts[filled] / counts.sum()
    axes.scatter(mean_confidence, observed, s=sizes, color=_ACCENT, alpha=0.8,
                 label="model (dot size = rows)")
    axes.set_xlabel(f"mean predicted {label}", fontsize=8)
    axes.set_ylabel("observed frequency", fontsize=8)
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.02, 1.02)
    axes.legend(fontsize=7, loc="upper left", frameon=False)
    return as_png(figure)


def _sample(n_rows: int) -> np.ndarray:
    if n_rows <= _MAX_POINTS:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(0).choice(n_rows, size=_MAX_POINTS, replace=False))


def predicted_vs_actual(y_true: np.ndarray, predicted: np.ndarray, target: str) -> str:
    """Each row's prediction against its true value; the diagonal is a perfect prediction."""
    picked = _sample(len(y_true))
    figure, axes = new_figure("Predicted vs actual")
    axes.scatter(y_true[picked], predicted[picked], s=6, alpha=0.5, color=_ACCENT,
                 edgecolors="none")
    low = float(min(y_true.min(), predicted.min()))
    high = float(max(y_true.max(), predicted.max()))
    axes.plot([low, high], [low, high], ls="--", color="grey", lw=0.8)
    axes.set_xlabel(f"actual {target}", fontsize=8)
    axes.set_ylabel(f"predicted {target}", fontsize=8)
    return as_png(figure)


def residuals(y_true: np.ndarray, predicted: np.ndarray, target: str) -> str:
    """Residual (actual − predicted) against the prediction: a pattern means a missed effect."""
    picked = _sample(len(y_true))
    figure, axes = new_figure("Residuals")
    axes.scatter(predicted[picked], (y_true - predicted)[picked], s=6, alpha=0.5,
                 color=_ACCENT, edgecolors="none")
    axes.axhline(0.0, ls="--", color="grey", lw=0.8)
    axes.set_xlabel(f"predicted {target}", fontsize=8)
    axes.set_ylabel("actual − predicted", fontsize=8)
    return as_png(figure)


def _names_room(names: Sequence[str]) -> float:
    return 0.2 + _CHAR_IN * min(max((len(n) for n in names), default=4), 28)


def _bars(title: str, names: Sequence[str], values: Sequence[float], *, xlabel: str,
          errors: Sequence[float] | None = None) -> str:
    height = min(1.2 + 0.22 * len(names), 7.0)
    figure, axes = new_figure(title, size=(_SIZE[0], height), left_in=_names_room(names))
    positions = np.arange(len(names))[::-1]
    axes.barh(positions, values, xerr=errors, color=_ACCENT, height=0.7,
              error_kw={"lw": 0.8, "capsize": 2})
    axes.set_yticks(positions, [n if len(n) <= 28 else n[:27] + "…" for n in names], fontsize=7)
    axes.set_xlabel(xlabel, fontsize=8)
    axes.grid(axis="y", visible=False)
    return as_png(figure)


def importance_bars(importance: Sequence[tuple[str, float, float]], metric: str,
                    *, limit: int = 20) -> str:
    """The mean drop of the metric when each column is shuffled, with its spread."""
    shown = list(importance[:limit])
    return _bars("Permutation importance", [n for n, _, _ in shown], [d for _, d, _ in shown],
                 errors=[s for _, _, s in shown], xlabel=f"drop in {metric} when shuffled")


def leaderboard_bars(names: Sequence[str], scores: Sequence[float], metric: str,
                     *, limit: int = 20) -> str:
    """Candidates' validation scores, best first, as dots on a zoomed axis (their differences
    are often in the third digit); the best one is highlighted."""
    shown_names, shown = list(names[:limit]), np.asarray(scores[:limit], dtype="float64")
    height = min(1.2 + 0.22 * len(shown), 7.0)
    title = "Candidates" + (f" (best {limit} of {len(scores)})" if len(scores) > limit else "")
    figure, axes = new_figure(title, size=(_SIZE[0], height),
                           left_in=_names_room(shown_names))
    positions = np.arange(len(shown))[::-1]
    low, high = float(shown.min()), float(shown.max())
    pad = (high - low) * 0.15 or abs(high) * 0.01 or 0.01
    axes.hlines(positions, low - pad, shown, color="#cbd5e1", lw=1.0)
    axes.scatter(shown, positions, s=28, zorder=3,
                 color=[_ACCENT if i == 0 else "#64748b" for i in range(len(shown))])
    for position, value in zip(positions, shown, strict=True):
        axes.annotate(f"{value:.4g}", (value, position), xytext=(5, 0),
                      textcoords="offset points", va="center", fontsize=7)
    axes.set_xlim(low - pad, high + 2.5 * pad)
    axes.set_yticks(positions, [n if len(n) <= 28 else n[:27] + "…" for n in shown_names],
                    fontsize=7)
    axes.set_xlabel(f"validation {metric}", fontsize=8)
    axes.grid(axis="y", visible=False)
    return as_png(figure)


def learning_curve(label: str, history: Mapping[str, Any]) -> str:
    """A network's training and validation loss per epoch, with the epoch it kept."""
    epochs = [e for e in history.get("epochs", []) if isinstance(e, Mapping)]
    figure, axes = new_figure(f"Learning curve: {label}")
    numbers = [int(e["epoch"]) for e in epochs]
    axes.plot(numbers, [float(e["train_loss"]) for e in epochs], marker="o", markersize=3,
              color=_ACCENT, label="training loss")
    validated = [(int(e["epoch"]), float(e["val_loss"])) for e in epochs
                 if e.get("val_loss") is not None]
    if validated:
        axes.plot(*zip(*validated, strict=True), marker="o", markersize=3, color="#dc2626",
                  label="validation loss")
    best = int(history.get("best_epoch", 0))
    if validated and best:
        axes.axvline(best, color="#6b7280", linestyle="--", linewidth=1,
                     label=f"kept: epoch {best}")
    axes.set_xlabel("epoch", fontsize=8)
    axes.set_ylabel("loss", fontsize=8)
    axes.legend(fontsize=7)
    return as_png(figure)
