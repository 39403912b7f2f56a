"""Active learning for labeling projects: a quick model, and the items it most needs labelled.

Once a project has labels of two classes, a quick model (features of the modality plus a
small classifier) is fitted on them; ``next_items`` orders the unlabelled items by how
unsure it is (margin or entropy), keeping the batch diverse, so each label teaches the most.
``cv_score`` gives the curve the project page draws; ``important_words`` the highlights
(``word_weights``: the same, as a table the labeling page can use without the model).

    >>> items = pd.DataFrame({"text": ["win cash now", "free prize", "see you at noon",
    ...                                "lunch at noon?", "cash prize at noon"]})
    >>> labels = pd.Series(["spam", "spam", "ham", "ham", None])
    >>> model = fit_quick_model(items, labels, modality="text")
    >>> next_items(model, items, labels, size=1)
    [4]

Features by modality, all learned from the labelled items only (cheap to refit):

- ``text``: TF-IDF of the words of the ``text`` column;
- ``table``: the training pipeline's linear preprocessing (``data.prepare``) of every column
  but ids and image paths, then a small LightGBM (the linear style, though trees need no
  scaling: diversity clusters items in this space, which must be scaled and without gaps);
- ``image``: the ``path`` column's images decoded in torch as 16×16 grey pixels (no
  downloaded weights), cached by path, size and modification time so a refit reads no file
  twice.

Text and images then get a logistic regression.

The score is macro F1, not accuracy: labeling projects are often lopsided (one spam message in
eight) and accuracy would rate a model that never names the rare class well.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from trainforge.algorithms.model import coerce_frame, feature_specs
from trainforge.data.dataset import ColumnKind
from trainforge.data.images import decode_images
from trainforge.data.prepare import TablePreprocessor, make_preprocessor
from trainforge.data.schema import infer_schema
from trainforge.errors import (
    ColumnNotFound,
    ImageUnreadable,
    InvalidField,
    NotEnoughLabels,
    NoUsableFeatures,
)
from trainforge.labeling.highlights import TOP_WORDS, WordWeights

MODALITIES = ("text", "image", "table")
STRATEGIES = ("margin", "entropy")
CV_FOLDS = 5  # at most; fewer when the rarest class has fewer labels
MAX_POOL = 20_000  # unlabelled items scored per call, drawn afresh as labels arrive
DIVERSITY_SHORTLIST = 10  # a batch of n is chosen among the n × this most uncertain items
TEXT_C = 10.0  # TF-IDF values are small: weaker regularisation than the default 1 (+1 pt F1 on SMS)
IMAGE_SIDE = 16  # pixels a side: MNIST digits stay legible, 256 numbers an image
IMAGE_CACHE_ITEMS = 200_000  # 256 bytes each: at most ~51 MB
_DECODE_CHUNK = 256  # images decoded at once: bounds memory when the photos are large
_SOURCE = "the project's items"


@dataclass(frozen=True)
class QuickModel:
    """A fitted quick model: the modality's features and a classifier on them."""

    modality: str
    features: Any  # _TextFeatures | _ImageFeatures | _TableFeatures, fitted
    classifier: Any  # LogisticRegression (text, image) | LGBMClassifier (table), fitted
    seed: int

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.classifier.classes_)


# ---- features ------------------------------------------------------------------------------
def _column(items: pd.DataFrame, name: str) -> pd.Series:
    if name not in items.columns:
        raise ColumnNotFound(name, _SOURCE, [str(c) for c in items.columns],
                             f"the project's {name} column")
    return items[name]


class _TextFeatures:
    """TF-IDF of the words of ``text``."""

    def __init__(self, texts: pd.Series) -> None:
        # single words: word pairs cost three times the refit time for 0.3 points of F1 on SMS,
        # and a highlight is one word
        self.vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float64)
        try:
            self.vectorizer.fit(_strings(texts))
        except ValueError as err:  # no word in any labelled text
            raise NoUsableFeatures(_SOURCE, "the labelled texts have no words") from err

    def transform(self, items: pd.DataFrame) -> Any:
        return self.vectorizer.transform(_strings(_column(items, "text")))


def _strings(texts: pd.Series) -> list[str]:
    return ["" if pd.isna(t) else str(t) for t in texts.tolist()]


class _ImageFeatures:
    """Grey pixels of ``path``'s images; nothing is learned, so fitting keeps no state."""

    def transform(self, items: pd.DataFrame) -> np.ndarray:
        paths = _column(items, "path")
        return _PIXELS.pixels(paths).astype(np.float32) / 255.0


class _TableFeatures:
    """The training pipeline's linear preprocessing of every usable column."""

    def __init__(self, items: pd.DataFrame, labelled: pd.DataFrame, y: np.ndarray) -> None:
        schema = infer_schema(items)  # kinds from every item: a few rows all look unique
        usable = [name for name, kind in schema.items()
                  if kind not in (ColumnKind.ID, ColumnKind.IMAGE)]
        if not usable:
            raise NoUsableFeatures(_SOURCE, "every column is an id or an image path")
        self.specs = feature_specs(schema, usable)
        self.preprocessor: TablePreprocessor = make_preprocessor(
            schema, usable, style="linear",
            target_type="binary" if len(set(y)) == 2 else "multiclass")
        self.preprocessor.fit(coerce_frame(labelled, self.specs), y)

    def transform(self, items: pd.DataFrame) -> Any:
        return self.preprocessor.transform(coerce_frame(items, self.specs))


class _PixelCache:
    """Decoded pixels by (path, size, modification time), least recently used first out.

    Shared by every project in the process (refits run in background threads, hence the
    lock); a changed file has a new key, so it is read again.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()

    def pixels(self, paths: pd.Series) -> np.ndarray:
        keys = [_file_key(path, item) for item, path in paths.items()]
        with self._lock:
            found = {k: self._entries[k] for k in keys if k in self._entries}
            for key in found:
                self._entries.move_to_end(key)
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        for start in range(0, len(missing), _DECODE_CHUNK):
            chunk = missing[start:start + _DECODE_CHUNK]
            decoded = decode_images([k[0] for k in chunk], size=(IMAGE_SIDE, IMAGE_SIDE),
                                    channels=1).numpy().reshape(len(chunk), -1)
            found.update(zip(chunk, decoded, strict=True))
        with self._lock:
            for key in missing:
                self._entries[key] = found[key]
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)
        if not keys:
            return np.zeros((0, IMAGE_SIDE * IMAGE_SIDE), dtype=np.uint8)
        return np.stack([found[k] for k in keys])


def _file_key(path: Any, item: Any) -> tuple[str, int, int]:
    if not isinstance(path, str) or not path:
        raise ImageUnreadable(f"item {item}", "it has no image path")
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise ImageUnreadable(path, "no such file") from None
    except OSError as err:
        raise ImageUnreadable(path, err.strerror or type(err).__name__) from None
    return path, status.st_size, status.st_mtime_ns


_PIXELS = _PixelCache(IMAGE_CACHE_ITEMS)


# ---- the quick model -----------------------------------------------------------------------
def _check_choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidField(field, f"{value!r} is not one of {', '.join(allowed)}; pick one of "
                           "those")


def _labelled_part(items: pd.DataFrame, labels: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """The labelled items and their labels as strings, in item order."""
    aligned = labels.reindex(items.index)
    known = aligned.notna().to_numpy()
    return items[known], aligned[known].astype(str).to_numpy()


def _classifier(modality: str, *, seed: int) -> Any:
    """A small LightGBM for tables (a linear model stalls there: 0.83 macro F1 on satimage
    with every label, where this reaches 0.89), a logistic regression on text and pixels.
    Both weigh classes alike: a project's first labels are often nearly all one class."""
    if modality == "table":
        # few labels per leaf: the first refits have a few dozen labels in all
        return LGBMClassifier(n_estimators=100, num_leaves=15, min_child_samples=3,
                              class_weight="balanced", n_jobs=1, verbose=-1, random_state=seed)
    return LogisticRegression(C=TEXT_C if modality == "text" else 1.0, class_weight="balanced",
                              max_iter=1_000, random_state=seed)


def _fit(items: pd.DataFrame, labelled: pd.DataFrame, y: np.ndarray, *, modality: str,
         seed: int) -> QuickModel:
    features: Any
    if modality == "text":
        features = _TextFeatures(_column(labelled, "text"))
    elif modality == "image":
        features = _ImageFeatures()
    else:
        features = _TableFeatures(items, labelled, y)
    classifier = _classifier(modality, seed=seed)
    with _one_thread():
        classifier.fit(features.transform(labelled), y)
    return QuickModel(modality=modality, features=features, classifier=classifier, seed=seed)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """BLAS and OpenMP on one thread while the quick model fits, predicts or clusters: its
    matrices are too small to share out, and OpenBLAS threads waiting on a busy machine made
    a 0.2 s fit take 5 s. The limit is process-wide, hence the lock (so that two refits in
    parallel cannot undo each other's)."""
    with _ONE_THREAD_LOCK, threadpool_limits(limits=1):
        yield


_ONE_THREAD_LOCK = threading.Lock()


def fit_quick_model(items: pd.DataFrame, labels: pd.Series, *, modality: str,
                    seed: int = 0) -> QuickModel:
    """The quick model of ``items`` (one row per item, index = item id) learned from
    ``labels`` (a class name per labelled item, NaN/None for the others).

    Raises:
        NotEnoughLabels: the labels name fewer than two classes.
        InvalidField: ``modality`` is not "text", "image" or "table".
        ImageUnreadable: an image project's file is missing or not an image (named).
    """
    _check_choice("modality", modality, MODALITIES)
    labelled, y = _labelled_part(items, labels)
    classes = sorted(set(y))
    if len(classes) < 2:
        raise NotEnoughLabels(n_labels=len(y), classes=classes)
    return _fit(items, labelled, y, modality=modality, seed=seed)


# ---- ordering ------------------------------------------------------------------------------
def _uncertainty(probabilities: np.ndarray, strategy: str) -> np.ndarray:
    """Higher = less sure. Margin: 1 − (top probability − runner-up); entropy in nats."""
    if strategy == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(probabilities > 0, np.log(probabilities), 0.0)
        return np.asarray(-(probabilities * logs).sum(axis=1))
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    return np.asarray(1.0 - (top_two[:, 1] - top_two[:, 0]))


def _unlabelled_ids(items: pd.DataFrame, labelled: pd.Series) -> np.ndarray:
    is_done = (labelled.reindex(items.index, fill_value=False) if labelled.dtype == bool
               else labelled.reindex(items.index).notna())
    return np.asarray(items.index[~is_done.to_numpy(dtype=bool)])


def _pool(candidates: np.ndarray, *, n_labelled: int, seed: int) -> np.ndarray:
    """All candidates, or a random ``MAX_POOL`` of them: a new draw as the label count
    grows, so no item is left out for good, and the same draw for the same state."""
    if len(candidates) <= MAX_POOL:
        return candidates
    rng = np.random.default_rng([seed, n_labelled])
    return np.sort(rng.choice(candidates, size=MAX_POOL, replace=False))


def _diverse(features: Any, uncertainty: np.ndarray, *, size: int, seed: int) -> list[int]:
    """Positions of ``size`` rows: the shortlist of the most uncertain is clustered into
    ``size`` groups and the most uncertain row of each is taken, most uncertain first; when
    near-copies leave fewer groups, the next most uncertain rows fill the batch."""
    order = np.argsort(-uncertainty, kind="stable")
    shortlist = order[:size * DIVERSITY_SHORTLIST]
    if len(shortlist) <= size:
        return [int(i) for i in shortlist]
    with warnings.catch_warnings():  # copies leave fewer distinct groups: handled below
        warnings.simplefilter("ignore", ConvergenceWarning)
        groups = KMeans(n_clusters=size, n_init=1, random_state=seed).fit_predict(
            features[shortlist])
    chosen: dict[int, int] = {}
    for position, group in zip(shortlist, groups, strict=True):  # most uncertain first
        chosen.setdefault(int(group), int(position))
    picked = list(chosen.values())
    taken = set(picked)
    fill = [int(i) for i in shortlist if int(i) not in taken]
    return picked + fill[:size - len(picked)]


def next_items(model: QuickModel, items: pd.DataFrame, labelled: pd.Series, *, size: int,
               strategy: str = "margin") -> list[int]:
    """Up to ``size`` ids of unlabelled items, the ones whose label would teach ``model``
    most first.

    ``labelled`` is the project's labels (NaN/None where none) or a boolean mask of the
    labelled items, on the index of ``items``.

    Raises:
        InvalidField: ``strategy`` is not "margin" or "entropy".
    """
    _check_choice("strategy", strategy, STRATEGIES)
    candidates = _unlabelled_ids(items, labelled)
    if size <= 0 or len(candidates) == 0:
        return []
    pool = _pool(candidates, n_labelled=len(items) - len(candidates), seed=model.seed)
    features = model.features.transform(items.loc[pool])
    with _one_thread():
        uncertainty = _uncertainty(model.classifier.predict_proba(features), strategy)
        positions = _diverse(features, uncertainty, size=size, seed=model.seed)
    return [int(pool[p]) for p in positions]


# ---- the curve and the highlights ----------------------------------------------------------
def cv_score(items: pd.DataFrame, labels: pd.Series, *, modality: str) -> float | None:
    """The quick model's cross-validated macro F1 on the labelled items (stratified, up to
    five folds), or None until two classes are labelled and each labelled class has two
    labels (a class labelled once cannot be in both a fold's training and its test part)."""
    _check_choice("modality", modality, MODALITIES)
    labelled, y = _labelled_part(items, labels)
    counts = pd.Series(y).value_counts()
    if len(counts) < 2 or int(counts.min()) < 2:
        return None
    folds = StratifiedKFold(n_splits=min(CV_FOLDS, int(counts.min())), shuffle=True,
                            random_state=0)
    predicted = np.empty(len(y), dtype=object)
    for train, test in folds.split(np.zeros(len(y)), y):
        model = _fit(items, labelled.iloc[train], y[train], modality=modality, seed=0)
        rows = model.features.transform(labelled.iloc[test])
        with _one_thread():
            predicted[test] = model.classifier.predict(rows)
    return float(f1_score(y, predicted.astype(str), average="macro"))


def word_weights(model: QuickModel) -> WordWeights | None:
    """A text model's numbers per word, from which its highlights are computed anywhere
    (``WordWeights.spans``); None for an image or table model, which has no words."""
    if model.modality != "text":
        return None
    return WordWeights.of(model.features.vectorizer, model.classifier)


def important_words(model: QuickModel, text: str, *, top: int = TOP_WORDS
                    ) -> list[tuple[int, int, float]]:
    """(start, end, weight) of each occurrence in ``text`` of the ``top`` words that push a
    text model hardest towards its predicted class, heaviest first (an image or table model
    has no words: [])."""
    weights = word_weights(model)
    return [] if weights is None else weights.spans(text, top=top)
