"""DP-SGD on MNIST: test accuracy and time at ε = 1, 3, 8 (δ = 1e-5) and without DP.

The catalog's CNN (``NetworkModel``, what `trainforge train --algorithm cnn` builds) trains for
the same fixed number of epochs on the same training images, then predicts held-out test
images it never saw. Under --dp-epsilon it trains with GroupNorm (BatchNorm mixes the rows of a
batch, which DP-SGD cannot clip per row); without DP it is the catalog's BatchNorm network,
i.e. what a user gets without the flag. Images come from the MNIST test set in
../shared/data (benchmarks/images/materialise.py reads it): the first ``--train-rows`` of its
first 8,000 to train on, the last ``--test-rows`` to test.

    python benchmarks/privacy/bench_dp_sgd.py --train-rows 2000 --test-rows 1000 --epochs 3

The defaults are sized for a shared, loaded 2-core machine (images resized to 14×14, width 8,
one torch thread); give --image-size 28 --width 16 --train-rows 8000 where time allows.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))
from materialise import DATA, N_TRAIN, load


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _column(images: np.ndarray) -> np.ndarray:
    column = np.empty(len(images), dtype=object)
    column[:] = [_png(image) for image in images]
    return column


def run(epsilon: float | None, *, train: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray], epochs: int, width: int, batch_size: int,
        image_size: int, learning_rate: float, threads: int) -> dict[str, object]:
    from trainforge.algorithms.network import NetworkModel

    model = NetworkModel(architecture="cnn", n_classes=10, max_epochs=epochs,
                         fixed_epochs=True, batch_size=batch_size, width=width,
                         image_size=image_size, torch_threads=threads,
                         learning_rate=learning_rate, schedule="onecycle", augment=0.0,
                         dropout=0.0,
                         label_smoothing=0.0, dp_epsilon=epsilon,
                         dp_delta=None if epsilon is None else 1e-5)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(*train)
    fit_s, fit_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    accuracy = float(np.mean(model.predict(test[0]) == test[1]))
    return {"epsilon_target": epsilon, "test_accuracy": accuracy, "fit_s": fit_s,
            "fit_cpu_s": fit_cpu_s, "privacy": model.privacy_}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-rows", type=int, default=2_000)
    parser.add_argument("--test-rows", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=14,
                        help="side the images are resized to (28: MNIST's own)")
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epsilons", default="none,8,3,1")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    images, labels = load("mnist", data_dir=args.data)
    train = (_column(images[:args.train_rows]), labels[:args.train_rows].astype(np.int64))
    test = (_column(images[-args.test_rows:]), labels[-args.test_rows:].astype(np.int64))
    if args.train_rows > N_TRAIN or args.test_rows > len(images) - N_TRAIN:
        raise SystemExit(f"at most {N_TRAIN} training and {len(images) - N_TRAIN} test rows")
    for given in args.epsilons.split(","):
        epsilon = None if given == "none" else float(given)
        result = run(epsilon, train=train, test=test, epochs=args.epochs, width=args.width,
                     batch_size=args.batch_size, image_size=args.image_size,
                     learning_rate=args.learning_rate, threads=args.threads)
        spent = result["privacy"]
        shown = ("no DP" if spent is None else
                 f"ε target {epsilon:g}: spent {spent['epsilon']:.2f}, "  # type: ignore[index]
                 f"σ {spent['noise_multiplier']:.2f}")  # type: ignore[index]
        print(f"{shown:40s} test accuracy {result['test_accuracy']:.4f}  "
              f"fit {result['fit_s']:.0f} s wall, {result['fit_cpu_s']:.0f} s CPU", flush=True)
        print(json.dumps({**vars(args), "data": str(args.data), **result}, default=str),
              flush=True)


if __name__ == "__main__":
    main()
