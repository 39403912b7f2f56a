"""Image AutoML on MNIST and Fashion-MNIST through the real folder reader.

The 10,000-image test sets in ../shared/data are written as PNG class folders (the first
8,000 to train on, the last 2,000 to test: benchmarks/images/materialise.py); trainforge
trains on the train folder within the budget and predicts the test folder, which it never
saw. Prints test accuracy, each candidate's score, epochs and fit time.

    python benchmarks/images/bench_images.py mnist --budget 300
    python benchmarks/images/bench_images.py fashion_mnist --budget 300
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from materialise import CLASS_NAMES, DATA, materialise


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=sorted(CLASS_NAMES))
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    os.environ.setdefault("TRAINFORGE_HOME", tempfile.mkdtemp(prefix="bench-images-"))
    import trainforge as tf
    from trainforge.serving.batch import predict_file

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / args.name
        materialise(args.name, root, data_dir=args.data)
        started = time.perf_counter()
        model = tf.train(root / "train", time_budget=args.budget, name=args.name)
        wall = time.perf_counter() - started
        out = Path(scratch) / "predictions.csv"
        predicted = predict_file(model.loaded, root / "test", out)
        import pandas as pd

        rows = pd.read_csv(out, dtype={"prediction": str})
        truth = [Path(p).parent.name for p in rows["path"]]
        accuracy = float(np.mean(rows["prediction"].astype(str).to_numpy() == np.asarray(truth)))
    print(f"{args.name}: test accuracy {accuracy:.4f} on {len(rows)} images "
          f"({args.budget:g} s budget, {wall:.0f} s wall; predicting took "
          f"{predicted.seconds:.1f} s)")
    candidates = []
    for row in model.leaderboard.itertuples():
        score = float(row.score) if row.score is not None else float("nan")
        candidates.append({"algorithm": row.algorithm, "params": row.params, "score": score,
                           "fit_s": float(row.fit_time_s), "status": row.status})
        print(f"  {row.algorithm:10s} {score:.4f}  fit {row.fit_time_s:7.1f} s  {row.status}  "
              f"{row.params}")
    print(json.dumps({"dataset": args.name, "test_accuracy": accuracy, "budget_s": args.budget,
                      "wall_s": wall, "candidates": candidates}, default=str))


if __name__ == "__main__":
    main()
