"""Writes MNIST or Fashion-MNIST (the 10,000-image test sets) as PNG files in class folders.

    python benchmarks/images/materialise.py mnist /tmp/mnist
    python benchmarks/images/materialise.py fashion_mnist /tmp/fashion --data /work/shared/data

The first 8,000 images go to ``OUT/train/<class>/<index>.png`` and the last 2,000 to
``OUT/test/<class>/<index>.png`` (index = position in the IDX file), so the image benchmarks
train through the same folder reader users do. Class folders are digits for MNIST and clothing
names for Fashion-MNIST.
"""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
N_TRAIN = 8_000
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["t-shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                      "sneaker", "bag", "ankle_boot"],
}
_IMAGES_MAGIC, _LABELS_MAGIC = 0x00000803, 0x00000801


def read_idx_images(path: Path) -> np.ndarray:
    """(N, H, W) uint8 from an IDX3 file (gzip or plain), checking its header."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    magic, count, height, width = struct.unpack(">IIII", data[:16])
    if magic != _IMAGES_MAGIC:
        raise ValueError(f"{path}: magic {magic:#x} is not IDX3 images ({_IMAGES_MAGIC:#x})")
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, height, width)


def read_idx_labels(path: Path) -> np.ndarray:
    """(N,) uint8 from an IDX1 file (gzip or plain), checking its header."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    magic, count = struct.unpack(">II", data[:8])
    if magic != _LABELS_MAGIC:
        raise ValueError(f"{path}: magic {magic:#x} is not IDX1 labels ({_LABELS_MAGIC:#x})")
    return np.frombuffer(data, np.uint8, offset=8, count=count)


def load(name: str, *, data_dir: Path = DATA) -> tuple[np.ndarray, np.ndarray]:
    """The test-set images and labels of ``name`` (``mnist`` or ``fashion_mnist``)."""
    folder = data_dir / name
    return (read_idx_images(folder / "t10k-images-idx3-ubyte.gz"),
            read_idx_labels(folder / "t10k-labels-idx1-ubyte.gz"))


def write_pngs(images: np.ndarray, labels: np.ndarray, indices: range | list[int], out: Path,
               *, class_names: list[str]) -> int:
    """Writes ``images[i]`` to ``out/<class>/<i>.png`` for each i; returns how many."""
    for i in indices:
        folder = out / class_names[int(labels[i])]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i], mode="L").save(folder / f"{i}.png", optimize=True)
    return len(indices)


def materialise(name: str, out: Path, *, data_dir: Path = DATA) -> None:
    images, labels = load(name, data_dir=data_dir)
    names = CLASS_NAMES[name]
    n_train = write_pngs(images, labels, range(N_TRAIN), out / "train", class_names=names)
    n_test = write_pngs(images, labels, range(N_TRAIN, len(images)), out / "test",
                        class_names=names)
    print(f"{name}: {n_train:,} train and {n_test:,} test images in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(CLASS_NAMES))
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding mnist/ and "
                        "fashion_mnist/ (default: the shared data folder)")
    args = parser.parse_args()
    materialise(args.name, args.out, data_dir=args.data)


if __name__ == "__main__":
    main()
