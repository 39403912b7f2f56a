"""Clustering recovers known groups: adjusted Rand index with the labels hidden (issue 4).

Real labelled data, the labels removed before clustering and used only to score:

- iris (150 flowers, 3 species) and wine (178 wines, 3 cultivars), shipped inside scikit-learn;
- MNIST and Fashion-MNIST: the first 2,000 images of each test set (``../shared/data``), as
  784 pixel columns (0–255), and as their first 50 principal components (PCA fitted on those
  2,000 images, columns pc1..pc50).

Each table goes through ``trainforge.training.unsupervised.cluster`` three ways: ``auto`` (method
and k chosen on the data), k-means given the true k, and a Gaussian mixture given the true k.
Beside them, scikit-learn's ``KMeans(n_clusters=true k, n_init=10, random_state=0)`` on the
same numbers as given (no scaling: how it is usually run on pixels; iris and wine standardised,
as trainforge does).

    python benchmarks/clustering/bench_clustering.py --budget 60
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "images"))

from materialise import load as load_images

from trainforge.data.dataset import ColumnKind
from trainforge.training.unsupervised import cluster

N_IMAGES = 2_000


def tables() -> list[tuple[str, pd.DataFrame, np.ndarray, bool]]:
    """(name, table, true labels, whether the sklearn baseline standardises first)."""
    out: list[tuple[str, pd.DataFrame, np.ndarray, bool]] = []
    for name, loader in (("iris", load_iris), ("wine", load_wine)):
        bunch = loader(as_frame=True)
        out.append((name, bunch.data, bunch.target.to_numpy(), True))
    for name in ("mnist", "fashion_mnist"):
        images, labels = load_images(name)
        pixels = images[:N_IMAGES].reshape(N_IMAGES, -1).astype(np.float64)
        out.append((f"{name} pixels", pd.DataFrame(pixels, columns=[f"px{i}" for i in
                                                                    range(pixels.shape[1])]),
                    labels[:N_IMAGES].astype(int), False))
        components = PCA(n_components=50, random_state=0).fit_transform(pixels / 255.0)
        out.append((f"{name} PCA-50", pd.DataFrame(components, columns=[f"pc{i + 1}" for i in
                                                                        range(50)]),
                    labels[:N_IMAGES].astype(int), False))
    return out


def baseline(frame: pd.DataFrame, truth: np.ndarray, k: int, *, standardise: bool) -> float:
    """scikit-learn's KMeans given the true k: the adjusted Rand index of its clusters."""
    numbers = frame.to_numpy(dtype=np.float64)
    if standardise:
        numbers = (numbers - numbers.mean(axis=0)) / numbers.std(axis=0)
    labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(numbers)
    return float(adjusted_rand_score(truth, labels))


def run_one(frame: pd.DataFrame, truth: np.ndarray, *, budget: float, method: str,
            k: int | None) -> tuple[float, str, float]:
    columns = [str(c) for c in frame.columns]
    started = time.perf_counter()
    result = cluster(frame, features=columns, schema={c: ColumnKind.NUMERIC for c in columns},
                     time_budget_s=budget, seed=0, method=method, k=k)
    took = time.perf_counter() - started
    return (float(adjusted_rand_score(truth, result.labels)),
            f"{result.method} k={result.n_clusters}", took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per cluster() call")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print("| data | rows × columns | true k | trainforge auto: ARI (choice, s) | "
          "trainforge k-means, true k | trainforge GMM, true k | scikit-learn KMeans, true k |")
    print("|---|---|---|---|---|---|---|")
    for name, frame, truth, standardise in tables():
        k = len(np.unique(truth))
        auto = run_one(frame, truth, budget=args.budget, method="auto", k=None)
        kmeans = run_one(frame, truth, budget=args.budget, method="kmeans", k=k)
        mixture = run_one(frame, truth, budget=args.budget, method="gmm", k=k)
        started = time.perf_counter()
        reference = baseline(frame, truth, k, standardise=standardise)
        reference_s = time.perf_counter() - started
        print(f"| {name} | {len(frame):,} × {frame.shape[1]} | {k} | "
              f"{auto[0]:.3f} ({auto[1]}, {auto[2]:.1f} s) | {kmeans[0]:.3f} ({kmeans[2]:.1f} s) | "
              f"{mixture[0]:.3f} ({mixture[2]:.1f} s) | {reference:.3f} ({reference_s:.1f} s) |",
              flush=True)


if __name__ == "__main__":
    main()
