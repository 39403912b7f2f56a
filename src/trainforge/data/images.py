"""Image data: a folder of class sub-folders becomes a Dataset; image files become tensors.

    images/
      cat/001.png  cat/002.jpg …
      dog/001.png …

``read_image_folder`` gives a table of absolute ``path`` and ``label`` (the sub-folder's
name), so images flow through splitting, task inference and lineage like any other table;
pixels are only decoded when a network needs them:

    >>> digits = read_image_folder(Path("examples/digits"))
    >>> digits.n_rows, digits.frame["label"].nunique()
    (600, 10)
    >>> shape = infer_image_shape(digits.frame["path"])
    >>> shape
    (1, 28, 28)
    >>> decode_images(digits.frame["path"][:5], size=shape[1:], channels=shape[0]).shape
    torch.Size([5, 1, 28, 28])

Pillow and PyTorch are imported inside the functions that need them: schema inference calls
``looks_like_image_paths`` on every text column and must stay cheap (and work without the
``[dl]`` extra).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.image_paths import read_image_bytes
from trainforge.errors import (
    DataError,
    DataFileNotFound,
    EmptyData,
    ImageUnreadable,
    NeedsDeepLearning,
    UnusableTarget,
)

if TYPE_CHECKING:
    import torch
    from PIL import Image

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
IMAGE_PATH_SHARE = 0.9  # a column is image paths when at least this share of values is one
MAX_TRAIN_SIDE = 64  # CPU training: larger images are shrunk (aspect kept) to this longest side
GREY_TOLERANCE = 3  # an RGB image whose channels differ by at most this (JPEG noise) is grey
NOTE_EXAMPLES = 5  # paths named in a note before the rest are only counted

_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})  # more than 8 bits
_WHITE = 255


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as err:  # the [dl] extra brings Pillow
        raise NeedsDeepLearning("reading images") from err
    return Image


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise NeedsDeepLearning("decoding images into tensors") from err
    return torch


# Pillow signals a broken file with any of these, depending on the format and what is broken
_DECODE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, SyntaxError, EOFError,
                                                   struct.error, IndexError, TypeError)


# ---- the folder ---------------------------------------------------------------------------------
def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _class_files(class_dir: Path) -> list[Path]:
    """Every visible file below one class folder, at any depth, in a stable order."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(class_dir):
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not _is_hidden(f))
    return found


def _leaves(file: Path, folder: Path) -> bool:
    """True for a file that is a link leading out of ``folder`` (which is resolved)."""
    return not Path(os.path.realpath(file)).is_relative_to(folder)


def _listing(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:NOTE_EXAMPLES])
    return shown + (f", … ({len(paths)} in all)" if len(paths) > NOTE_EXAMPLES else "")


def _file_digest_if_image(path: Path, image_module: Any) -> str | None:
    """sha256 of the file when Pillow recognises it as an image, else None."""
    try:
        data = read_image_bytes(path)
        with image_module.open(io.BytesIO(data)) as image:
            image.verify()  # checks structure and checksums without decoding pixels: cheap
    except (*_DECODE_ERRORS, image_module.DecompressionBombError):
        return None
    return hashlib.sha256(data).hexdigest()


def _check_folder(path: Path) -> None:
    if not path.exists():
        raise DataFileNotFound(str(path))
    if not path.is_dir():
        raise DataError(f"{path} is not a folder; give a folder with one sub-folder of images "
                        "per class (e.g. images/cat/1.png, images/dog/1.png)")


def read_image_folder(path: Path, *, notes: list[str] | None = None) -> Dataset:
    """A Dataset of the images in ``path``: one sub-folder per class, named after the class.

    Files Pillow cannot read (corrupt, empty, not images) are skipped and named in ``notes``,
    as are files lying directly in ``path``; hidden files and folders are ignored.

    Returns:
        A Dataset with columns ``path`` (absolute, str) and ``label`` (the sub-folder's name);
        its fingerprint covers every file's relative path and content.
    """
    notes = notes if notes is not None else []
    path = Path(path).resolve()
    _check_folder(path)
    image_module = _pillow()
    entries = sorted(e for e in path.iterdir() if not _is_hidden(e.name))
    loose = [e.name for e in entries if e.is_file()]
    if loose:
        notes.append(f"ignored {len(loose):,} files directly in {path} (images must be in a "
                     f"sub-folder named after their class): {_listing(loose)}")
    rows: list[tuple[str, str]] = []
    digests: list[tuple[str, str]] = []
    skipped: list[str] = []
    for class_dir in (e for e in entries if e.is_dir()):
        for file in _class_files(class_dir):
            relative = file.relative_to(path).as_posix()
            digest = None if _leaves(file, path) else _file_digest_if_image(file, image_module)
            if digest is None:
                skipped.append(relative)
                continue
            rows.append((str(file), class_dir.name))
            digests.append((relative, digest))
    if skipped:
        notes.append(f"skipped {len(skipped):,} files that are not images Pillow can read, "
                     "are links out of the folder or are over the size limit: "
                     f"{_listing(skipped)}")
    return _dataset(path, rows, digests, notes)


def _dataset(path: Path, rows: list[tuple[str, str]], digests: list[tuple[str, str]],
             notes: list[str]) -> Dataset:
    if not rows:
        raise EmptyData(str(path), "it holds no readable images in class sub-folders "
                        "(expected e.g. images/cat/1.png, images/dog/1.png)")
    frame = pd.DataFrame(rows, columns=["path", "label"])
    classes = sorted(set(frame["label"]))
    if len(classes) < 2:
        raise UnusableTarget("label", str(path), f"has one class only (sub-folder {classes[0]!r})",
                             "a classifier needs at least two classes: add one sub-folder of "
                             "images per class")
    notes.append(f"read {len(frame):,} images in {len(classes)} classes from {path}")
    digest = hashlib.sha256()
    for relative, file_digest in sorted(digests):
        digest.update(f"{relative}\x1f{file_digest}\x1e".encode())
    return Dataset(frame=frame, schema={"path": ColumnKind.IMAGE, "label": ColumnKind.CATEGORICAL},
                   source=str(path), fingerprint=digest.hexdigest())


def is_image_folder(path: Path) -> bool:
    """True for a directory with at least one image file inside a (visible) sub-folder."""
    path = Path(path)
    if not path.is_dir():
        return False
    for sub in path.iterdir():
        if _is_hidden(sub.name) or not sub.is_dir():
            continue
        for _, dirnames, filenames in os.walk(sub):
            dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
            if any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in filenames):
                return True
    return False


def looks_like_image_paths(values: pd.Series) -> bool:
    """True when most non-missing values are strings ending in an image file extension."""
    present = values.dropna().head(1_000)
    if present.empty:
        return False
    is_image = present.map(lambda v: isinstance(v, str)
                           and os.path.splitext(v.strip())[1].lower() in IMAGE_EXTENSIONS)
    return float(is_image.mean()) >= IMAGE_PATH_SHARE


# ---- decoding -----------------------------------------------------------------------------------
def _open(value: str | bytes, index: int, base_dir: Path | None) -> tuple[Image.Image, str]:
    image_module = _pillow()
    if isinstance(value, bytes | bytearray | memoryview):
        where = f"image #{index}"
        data = bytes(value)
    else:
        file = Path(value)
        if base_dir is not None and not file.is_absolute():
            file = Path(base_dir) / file
        where = str(file)
        try:
            data = read_image_bytes(file)
        except FileNotFoundError as err:
            raise ImageUnreadable(where, "no such file") from err
        except OSError as err:
            raise ImageUnreadable(where, err.strerror or type(err).__name__) from err
    try:
        image = image_module.open(io.BytesIO(data))
        image.load()
    except (*_DECODE_ERRORS, image_module.DecompressionBombError) as err:
        raise ImageUnreadable(where, str(err) or type(err).__name__) from err
    return image, where


def _wide_to_grey(image: Image.Image) -> np.ndarray:
    """16-bit and float images scaled into 0..255 (Pillow's convert("L") would clip them)."""
    pixels = np.asarray(image, dtype=np.float64)
    top = float(pixels.max()) if pixels.size else 0.0
    if image.mode.startswith("I;16") or 255.0 < top <= 65_535.0:
        pixels = pixels / 257.0
    elif top > 65_535.0 or (image.mode == "F" and 0.0 < top <= 1.0):
        pixels = pixels / (top or 1.0) * 255.0  # floats in 0..1, or an unusual range
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def _to_array(image: Image.Image, channels: int) -> np.ndarray:
    """(C, H, W) uint8 pixels of any Pillow mode; transparent parts become white."""
    if image.mode in _WIDE_MODES:
        grey = _wide_to_grey(image)
        return grey[None] if channels == 1 else np.repeat(grey[None], 3, axis=0)
    if _has_alpha(image):
        image_module = _pillow()
        rgba = image.convert("RGBA")
        # alpha over white: the usual page colour, and what viewers show
        background = image_module.new("RGBA", rgba.size, (_WHITE, _WHITE, _WHITE, _WHITE))
        image = image_module.alpha_composite(background, rgba).convert("RGB")
    converted = image.convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(converted, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise DataError(f"channels={channels} is not supported; use 1 (grayscale) or 3 (RGB)")


def _resize_groups(arrays: list[np.ndarray], size: tuple[int, int],
                   channels: int) -> torch.Tensor:
    """Resizes images of equal size together: one interpolate call per distinct size."""
    torch_ = _torch()
    functional = torch_.nn.functional
    out: torch.Tensor = torch_.empty((len(arrays), channels, *size), dtype=torch_.uint8)
    by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, pixels in enumerate(arrays):
        by_size[(pixels.shape[1], pixels.shape[2])].append(i)
    for shape, indices in by_size.items():
        batch = torch_.from_numpy(np.stack([arrays[i] for i in indices]))
        if shape != tuple(size):
            resized = functional.interpolate(batch.float(), size=size, mode="bilinear",
                                             antialias=True, align_corners=False)
            batch = resized.round_().clamp_(0, 255).to(torch_.uint8)
        out[torch_.as_tensor(indices)] = batch
    return out


def decode_images(values: Sequence[str | bytes], *, size: tuple[int, int], channels: int,
                  base_dir: Path | None = None) -> torch.Tensor:
    """Decodes image files (paths, or their raw bytes) into one uint8 batch (N, C, H, W).

    Any Pillow mode is converted to ``channels`` (1 grayscale, 3 RGB; transparency over white)
    and resized to ``size`` (height, width) with antialiased bilinear interpolation.

    Raises:
        ImageUnreadable: naming the file (or ``image #i`` for bytes) that could not be decoded.
    """
    _check_channels(channels)
    arrays: list[np.ndarray] = []
    for index, value in enumerate(values):
        image, where = _open(value, index, base_dir)
        with image:
            try:
                arrays.append(_to_array(image, channels))
            except _DECODE_ERRORS as err:
                raise ImageUnreadable(where, str(err) or type(err).__name__) from err
    return _resize_groups(arrays, (int(size[0]), int(size[1])), channels)


def _is_grey(image: Image.Image) -> bool:
    if image.mode in _GREY_MODES:
        return True
    rgb = _to_array(image, 3).astype(np.int16)
    return int((rgb.max(axis=0) - rgb.min(axis=0)).max(initial=0)) <= GREY_TOLERANCE


def infer_image_shape(values: Sequence[str | bytes], *, base_dir: Path | None = None,
                      sample: int = 200) -> tuple[int, int, int]:
    """(channels, height, width) to train at, from up to ``sample`` evenly spaced images.

    Channels are 1 when every sampled image is grey, else 3. Height and width are the median
    sizes, shrunk (aspect kept) so the longer side is at most ``MAX_TRAIN_SIDE`` (64): a
    convolutional net on two CPU cores trains in minutes at that size, not hours.
    """
    if len(values) == 0:
        raise EmptyData("the image column", "it has no images")
    values = list(values)  # by position: a pandas Series would index by label
    picks = np.unique(np.linspace(0, len(values) - 1, num=min(sample, len(values))).astype(int))
    heights, widths, grey = [], [], True
    for index in picks:
        image, _ = _open(values[int(index)], int(index), base_dir)
        with image:
            widths.append(image.width)
            heights.append(image.height)
            grey = grey and _is_grey(image)
    height, width = float(np.median(heights)), float(np.median(widths))
    scale = min(1.0, MAX_TRAIN_SIDE / max(height, width))
    return (1 if grey else 3, max(1, round(height * scale)), max(1, round(width * scale)))


def list_images(folder: Path, *, skipped: list[str] | None = None) -> list[str]:
    """Absolute paths of the readable images in ``folder`` at any depth, in a stable order
    (what batch prediction reads); the other files' relative paths go to ``skipped``."""
    folder = Path(folder).resolve()
    _check_folder(folder)
    image_module = _pillow()
    found: list[str] = []
    for file in _class_files(folder):
        if _leaves(file, folder) or _file_digest_if_image(file, image_module) is None:
            if skipped is not None:
                skipped.append(file.relative_to(folder).as_posix())
            continue
        found.append(str(file))
    return found
