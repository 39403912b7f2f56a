"""Learning without labels: segments (clustering) and anomalies, chosen on the data itself.

``cluster`` compares k-means, Gaussian mixtures, Ward's agglomerative clustering and HDBSCAN on
a sample of the rows, each over a range of cluster counts, within a time budget:

- k-means and agglomerative clustering choose k by the *silhouette* (how much closer a row is
  to its own cluster than to the next one; -1 to 1, higher is better);
- a Gaussian mixture chooses k by its *BIC* (fit penalised by the parameters used; lower is
  better), the criterion that belongs to a likelihood model;
- HDBSCAN finds its own number of clusters; its settings (minimum cluster size) are compared by
  silhouette over the clustered rows times the share of rows clustered, so calling most rows
  noise does not look good.

Between methods (``method="auto"``) each method's choice is compared by silhouette, the one
score all four share. The winner is then fitted again on all rows. Every candidate is kept in
``ClusteringResult.candidates``, the table a report shows.

``find_anomalies`` fits one detector and scores every row. ``"auto"`` is the local outlier
factor up to 20,000 rows and an isolation forest above (its cost grows linearly; LOF's
neighbour search does not). LOF comes first because an isolation forest dilutes an extreme
value in one column among the others: a wine whose alcohol was typed 142.3 for 14.23 ranks
4th of 179 under the forest, 1st under LOF.

Both read the same columns: ids, free text, images, constants and categories with more than
30 frequent levels are skipped with a note (they cannot be compared row to row without a
target); what is left becomes numbers through ``make_preprocessor(..., style="linear")``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import pairwise_distances, silhouette_score

from trainforge.algorithms import anomaly, clustering
from trainforge.algorithms.anomaly import AnomalyDetector, AnomalyModel
from trainforge.algorithms.clustering import ClusteringModel, build_segments
from trainforge.algorithms.model import feature_specs
from trainforge.algorithms.unsupervised_results import (
    AnomalyResult,
    ClusterCandidate,
    ClusteringResult,
)
from trainforge.data.dataset import ColumnKind, Schema
from trainforge.data.prepare import make_preprocessor
from trainforge.errors import (
    ColumnNotFound,
    ConfigError,
    EmptyData,
    NothingToCompare,
    UnknownAlgorithm,
)

MIN_ROWS = 3  # two rows make at most two "segments" of one row each: nothing to find
MAX_CLUSTERS = 10  # k tried from 2 up to this when the user gives none
SELECTION_ROWS = 3_000  # candidates are compared on a sample: silhouette and Ward cost O(n²)
MAX_LEVELS = 30  # frequent levels a category may have (the preprocessor's one-hot limit)
FREQUENT = 5  # a level seen this often counts as frequent (the preprocessor's rule)
SEARCH_SHARE = 0.6  # of the time budget; the rest is for the refit on all rows
AUTO_ORDER = ("kmeans", "agglomerative", "hdbscan", "gmm")
LOF_MAX_ROWS = 20_000  # "auto" anomaly detection: LOF up to here, an isolation forest above


def usable_features(frame: pd.DataFrame, *, features: Sequence[str], schema: Schema,
                    source: str = "the table") -> tuple[list[str], list[str]]:
    """The features rows can be compared by, and a note for each one skipped.

    Raises ColumnNotFound for a feature not in ``frame``, ConfigError for one not in
    ``schema``, and NothingToCompare when no feature is left.
    """
    kept: list[str] = []
    skipped: list[str] = []
    by_reason: dict[str, list[str]] = {}
    for name in features:
        if name not in frame.columns:
            raise ColumnNotFound(name, source, [str(c) for c in frame.columns], "the features")
        if name not in schema:
            raise ConfigError(f"feature {name!r} has no kind in the schema; infer the schema "
                              "again (infer_schema) or add the column's kind")
        reason = _why_unusable(frame[name], ColumnKind(schema[name]))
        if reason:
            skipped.append(f"{name} ({reason})")
            by_reason.setdefault(reason, []).append(name)
        else:
            kept.append(name)
    if not kept:
        raise NothingToCompare(source, skipped)
    # one note per reason: an image as pixel columns has dozens of constant borders
    notes = [f"column {names[0]!r} skipped: {reason}" if len(names) == 1 else
             f"{len(names)} columns skipped ({_listing(names)}): {reason}"
             for reason, names in by_reason.items()]
    return kept, notes


def _listing(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (", …" if len(names) > limit else "")


def _why_unusable(column: pd.Series, kind: ColumnKind) -> str:
    if kind is ColumnKind.ID:
        return "an id, unique per row"
    if kind is ColumnKind.TEXT:
        return "free text; segments and anomalies compare numbers and categories"
    if kind is ColumnKind.IMAGE:
        return "images; segments and anomalies compare numbers and categories"
    present = column.dropna()
    if present.nunique() <= 1:
        return "the same value in every row" if len(present) else "empty"
    if kind is ColumnKind.CATEGORICAL:
        counts = present.astype(str).value_counts()
        frequent = int((counts >= FREQUENT).sum())
        if frequent > MAX_LEVELS:
            return f"{frequent} frequent levels, too many to compare rows by; group them"
    return ""


def _check_rows(frame: pd.DataFrame, source: str, job: str) -> None:
    if len(frame) < MIN_ROWS:
        rows = "no rows" if len(frame) == 0 else f"only {len(frame)} row" + \
            ("s" if len(frame) > 1 else "")
        raise EmptyData(source, f"it has {rows}, and {job} needs at least {MIN_ROWS} to compare")


def _methods(method: str, k: int | None) -> list[str]:
    if method == "auto":
        # cheapest first, so a short budget still compares more than one method: Ward's tree
        # is built once for every k, mixtures cost the most. HDBSCAN finds its own number of
        # clusters: it cannot honour a k the user gave
        return [m for m in AUTO_ORDER if k is None or m != "hdbscan"]
    if method not in clustering.METHODS:
        raise UnknownAlgorithm(method, clustering.METHODS)
    return [method]


def cluster(frame: pd.DataFrame, *, features: Sequence[str], schema: Schema,
            time_budget_s: float, seed: int, method: str = "auto", k: int | None = None,
            source: str = "the table") -> ClusteringResult:
    """Segments of ``frame``'s rows: the method and number of clusters chosen on the data.

    Args:
        method: "auto" (compare all), or one of "kmeans", "gmm", "agglomerative", "hdbscan".
        k: the number of clusters; None chooses it (2 to 10). HDBSCAN ignores it.
        time_budget_s: the comparison stops at 60 % of it, leaving the rest for the refit;
            the first candidate always runs.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> iris = load_iris(as_frame=True).data
        >>> result = cluster(iris, features=list(iris.columns),
        ...                  schema={c: ColumnKind.NUMERIC for c in iris.columns},
        ...                  time_budget_s=30, seed=0, method="kmeans", k=3)
        >>> np.bincount(result.labels).tolist()  # segment 0 is the largest
        [53, 50, 47]
    """
    started = time.monotonic()
    methods = _methods(method, k)
    _check_rows(frame, source, "clustering")
    kept, notes = usable_features(frame, features=features, schema=schema, source=source)
    if k is not None and method == "hdbscan":
        notes.append(f"k={k} ignored: HDBSCAN finds the number of clusters itself")
    specs = [s.to_dict() for s in feature_specs(schema, kept)]
    # long tails (incomes, amounts) on a log scale: else a few extreme rows make the segments
    # (adult: 95 % / 5 % / 0.5 % split by capital gains, against two balanced life stages)
    matrix = _segment_preprocessor(schema, kept).fit_transform(_coerced(frame, specs))
    picked = _sample(len(matrix), SELECTION_ROWS, seed)
    sample = np.asarray(matrix[picked], dtype=np.float64)
    ks = _cluster_counts(sample, k)
    search = _Search(sample, seed=seed, deadline=started + SEARCH_SHARE * time_budget_s)
    for name in methods:
        search.run(name, ks)
    notes += search.notes
    best = _pick(search.candidates, methods)
    # HDBSCAN's minimum cluster size grows with the rows its refit sees
    sizes = round(max(best.min_cluster_size, 5) * min(len(frame), clustering.DENSITY_MAX_ROWS) /
                  len(sample))
    winner = build_segments(best.method, n_clusters=best.n_clusters, n_rows=len(frame),
                            seed=seed, min_cluster_size=max(2, sizes))
    model = ClusteringModel(specs, _segment_preprocessor(schema, kept), winner).fit(frame)
    if len(sample) < len(frame):
        notes.append(f"methods and k compared on {len(sample):,} of {len(frame):,} rows; "
                     f"{best.method} refitted on all of them")
    if model.n_clusters_ == 0:
        notes.append("HDBSCAN found no dense group: every row is noise; try method='kmeans'")
    return ClusteringResult(model=model, method=best.method, n_clusters=model.n_clusters_,
                            chosen=best, labels=model.labels_, candidates=tuple(search.candidates),
                            features=tuple(kept), notes=tuple(notes))


def _segment_preprocessor(schema: Schema, features: Sequence[str]) -> Any:
    return make_preprocessor(schema, features, style="linear", compress_tails=True)


def _coerced(frame: pd.DataFrame, specs: list[dict[str, str]]) -> pd.DataFrame:
    from trainforge.algorithms.model import FeatureSpec, coerce_frame

    return coerce_frame(frame, [FeatureSpec.from_dict(s) for s in specs])


def _sample(n_rows: int, limit: int, seed: int) -> np.ndarray:
    if n_rows <= limit:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=limit, replace=False))


def _cluster_counts(sample: np.ndarray, k: int | None) -> list[int]:
    """The numbers of clusters to try: ``k``, or 2 up to 10 — never more than distinct rows
    (k-means cannot place two centres on one point), nor as many as the rows (silhouette)."""
    distinct = len(np.unique(sample, axis=0))
    if k is not None:
        if not 1 <= k <= distinct:
            raise ConfigError(f"k is {k}, but the rows have {distinct} distinct values in the "
                              f"features used; give k between 1 and {distinct}, or leave it "
                              "out to choose it")
        return [k]
    return list(range(2, min(MAX_CLUSTERS, distinct, len(sample) - 1) + 1))


class _Search:
    """Tries candidates on the selection sample until the deadline; keeps every result."""

    def __init__(self, sample: np.ndarray, *, seed: int, deadline: float) -> None:
        self.sample, self.seed, self.deadline = sample, seed, deadline
        self.distances = pairwise_distances(sample)  # shared by every silhouette
        self.candidates: list[ClusterCandidate] = []
        self.notes: list[str] = []

    def _out_of_time(self, label: str) -> bool:
        if self.candidates and time.monotonic() > self.deadline:
            self.notes.append(f"time budget: {label} not tried")
            return True
        return False

    def _silhouette(self, labels: np.ndarray) -> float:
        clustered = labels >= 0
        n_groups = len(np.unique(labels[clustered]))
        if not 2 <= n_groups <= int(clustered.sum()) - 1:
            return float("nan")  # one group (or one row per group): nothing to compare
        inside = np.ix_(clustered, clustered)
        score = silhouette_score(self.distances[inside], labels[clustered], metric="precomputed")
        return float(score) * float(clustered.mean())

    def run(self, method: str, ks: Sequence[int]) -> None:
        if method == "agglomerative":
            self._agglomerative(ks)
        elif method == "hdbscan":
            self._hdbscan()
        else:
            for k in ks:
                if self._out_of_time(f"{method} with k={k}"):
                    return
                self._fit_one(method, k)

    def _fit_one(self, method: str, k: int) -> None:
        started = time.monotonic()
        estimator = build_segments(method, n_clusters=k, n_rows=len(self.sample), seed=self.seed)
        labels = np.asarray(estimator.fit(self.sample).labels_)
        silhouette = self._silhouette(labels) if k > 1 else float("nan")
        if method == "gmm":
            self._keep(method, k, "bic", estimator.bic(self.sample), silhouette, started)
        else:
            self._keep(method, k, "silhouette", silhouette, silhouette, started)

    def _agglomerative(self, ks: Sequence[int]) -> None:
        if self._out_of_time("agglomerative"):
            return
        started = time.monotonic()
        cuts = clustering.ward_cuts(self.sample, ks)  # one tree, cut at every k
        for k, labels in cuts.items():
            silhouette = self._silhouette(labels) if k > 1 else float("nan")
            self._keep("agglomerative", k, "silhouette", silhouette, silhouette, started)
            started = time.monotonic()

    def _hdbscan(self) -> None:
        n_rows = len(self.sample)
        for size in sorted({max(5, n_rows // d) for d in (100, 30, 10)}):
            if size >= n_rows or self._out_of_time(f"hdbscan with min_cluster_size={size}"):
                continue
            started = time.monotonic()
            estimator = build_segments("hdbscan", n_clusters=0, n_rows=n_rows, seed=self.seed,
                                       min_cluster_size=size)
            labels = np.asarray(estimator.fit(self.sample).labels_)
            noise = float(np.mean(labels < 0))
            score = self._silhouette(labels)
            self._keep("hdbscan", int(estimator.n_clusters_), "silhouette", score, score, started,
                       detail=f"min_cluster_size={size}, {noise:.0%} noise",
                       min_cluster_size=size)

    def _keep(self, method: str, k: int, criterion: str, score: float, silhouette: float,
              started: float, *, detail: str = "", min_cluster_size: int = 0) -> None:
        self.candidates.append(ClusterCandidate(
            method=method, n_clusters=k, criterion=criterion, score=float(score),
            silhouette=float(silhouette), fit_s=time.monotonic() - started, detail=detail,
            min_cluster_size=min_cluster_size))


def _pick(candidates: Sequence[ClusterCandidate], methods: Sequence[str]) -> ClusterCandidate:
    """Each method's best by its own criterion; then the best silhouette among those."""
    finalists: list[ClusterCandidate] = []
    for method in methods:
        tried = [c for c in candidates if c.method == method and np.isfinite(c.score)]
        if tried:
            lower_better = tried[0].criterion == "bic"
            finalists.append(min(tried, key=lambda c: c.score if lower_better else -c.score))
    if not finalists:  # a single k=1 candidate, or HDBSCAN calling everything noise
        return candidates[0]
    # NaN silhouettes (one group) sort last; ties keep the order of METHODS
    return max(finalists, key=lambda c: c.silhouette if np.isfinite(c.silhouette) else -2.0)


def find_anomalies(frame: pd.DataFrame, *, features: Sequence[str], schema: Schema, seed: int,
                   method: str = "auto", contamination: float | str = "auto",
                   source: str = "the table") -> AnomalyResult:
    """An anomaly score for every row of ``frame`` (higher = more anomalous), and a flag.

    Args:
        method: "auto" (LOF up to 20,000 rows, else an isolation forest), "lof",
            "isolation_forest" or
            "robust_covariance" (numbers only: other columns are left out with a note).
        contamination: "auto" (each method's own threshold) or the expected share of
            anomalies in (0, 0.5].
    """
    chosen = method
    if method == "auto":
        chosen = "lof" if len(frame) <= LOF_MAX_ROWS else "isolation_forest"
    if chosen not in anomaly.METHODS:
        raise UnknownAlgorithm(method, anomaly.METHODS)
    anomaly.check_contamination(contamination)
    _check_rows(frame, source, "anomaly detection")
    kept, notes = usable_features(frame, features=features, schema=schema, source=source)
    if chosen == "robust_covariance":
        kept, notes = _numbers_only(kept, schema, notes, source)
    specs = [s.to_dict() for s in feature_specs(schema, kept)]
    detector = AnomalyDetector(chosen, contamination=contamination, seed=seed)
    model = AnomalyModel(specs, make_preprocessor(schema, kept, style="linear"),
                         detector).fit(frame)
    scores = model.scores_
    return AnomalyResult(model=model, method=chosen, scores=scores,
                         is_anomaly=scores > model.threshold_, threshold=model.threshold_,
                         features=tuple(kept), notes=tuple(notes))


def _numbers_only(kept: list[str], schema: Schema, notes: list[str],
                  source: str) -> tuple[list[str], list[str]]:
    numbers = [f for f in kept if ColumnKind(schema[f]) is ColumnKind.NUMERIC]
    others = [f for f in kept if f not in numbers]
    if not numbers:
        raise NothingToCompare(source, [f"{f} (not a number; robust covariance reads numbers "
                                        "only, try method='isolation_forest')" for f in kept])
    return numbers, notes + [f"column {f!r} skipped: robust covariance reads numbers only"
                             for f in others]


def describe_choice(result: ClusteringResult) -> list[dict[str, Any]]:
    """The candidates as table rows (method, k, criterion, score, silhouette, seconds, chosen),
    for the CLI and the report."""
    return [{"method": c.method, "k": c.n_clusters, "criterion": c.criterion,
             "score": round(c.score, 4), "silhouette": round(c.silhouette, 4),
             "fit_s": round(c.fit_s, 3), "detail": c.detail,
             "chosen": c == result.chosen}
            for c in result.candidates]


def cluster_metrics(result: ClusteringResult) -> dict[str, float]:
    """What a clustering is judged by, as the registry and the run record it: the chosen
    candidate's silhouette (and BIC for a mixture), the segments found, the noise share."""
    metrics = {"silhouette": result.chosen.silhouette, "n_clusters": float(result.n_clusters),
               "noise_share": float(np.mean(result.labels < 0))}
    if result.chosen.criterion == "bic":
        metrics["bic"] = result.chosen.score
    return {k: round(v, 6) for k, v in metrics.items() if np.isfinite(v)}


def anomaly_metrics(result: AnomalyResult) -> dict[str, float]:
    """The share and count of rows flagged, the threshold, and the score's spread."""
    scores = result.scores
    return {"anomaly_share": round(float(np.mean(result.is_anomaly)), 6),
            "n_anomalies": float(np.sum(result.is_anomaly)),
            "threshold": round(result.threshold, 6),
            "median_score": round(float(np.median(scores)), 6),
            "max_score": round(float(np.max(scores)), 6)}
