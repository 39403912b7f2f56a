"""Batch prediction: a file in, a file of predictions out, one chunk in memory at a time."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainforge.data.read import read_chunks
from trainforge.data.task import TaskKind
from trainforge.errors import InvalidRequest, NotExplainable, UnreadableData
from trainforge.registry.loaded import LoadedModel
from trainforge.serving.explain import contribution_columns, explainer_for, refusal
from trainforge.serving.network_explain import explained_columns, network_of
from trainforge.serving.served import unscored

PREDICTION = "prediction"
SCORE = "score"  # an anomaly model's score per row
PATH = "path"  # the file each prediction of an image folder is for
UNSCORED_SHOWN = 20  # unscored rows named in a BatchResult (all are counted)


@dataclass(frozen=True)
class BatchResult:
    """What ``predict_file`` wrote."""

    n_rows: int
    seconds: float
    output: Path
    skipped: tuple[str, ...] = ()  # files of an image folder that are not readable images
    # rows (1-based, input order) the model could not score: their values overflow its
    # arithmetic (a feature at 1e308), so their prediction is left empty, never made up;
    # ``unscored_rows`` names the first UNSCORED_SHOWN of ``n_unscored``
    n_unscored: int = 0
    unscored_rows: tuple[int, ...] = ()


def _predictions_frame(loaded: LoadedModel, chunk: pd.DataFrame) -> tuple[pd.DataFrame,
                                                                         np.ndarray]:
    """``prediction`` and, for classifiers, one probability column per class label; for an
    anomaly model, ``score`` and ``prediction`` (1: above the threshold, an anomaly). Also
    which rows the model could not score (``_scored``): their columns are left empty."""
    model = loaded.tabular  # a policy is refused here, saying to use /act
    if model.task.kind is TaskKind.ANOMALY:
        scores, blank = _scored(model.anomaly_score, chunk, width=0)
        flags = pd.Series((scores > model.threshold).astype("int64"))
        if blank.any():
            flags = flags.astype("Int64").mask(blank)
        return pd.DataFrame({SCORE: scores, PREDICTION: flags}), blank
    if not model.task.kind.is_classification:
        values, blank = _scored(model.predict, chunk, width=0)
        return pd.DataFrame({PREDICTION: values}), blank
    # the probabilities once: the label from them, as predict() gives
    proba, blank = _scored(model.predict_proba, chunk, width=len(model.classes))
    labels: Any = model.labels(proba, chunk)
    if blank.any():  # argmax over NaN would name the first class
        labels = pd.Series(labels, dtype=object).mask(blank, None)
    columns: dict[str, Any] = {PREDICTION: labels}
    columns.update({label: proba[:, i] for i, label in enumerate(model.classes)})
    return pd.DataFrame(columns), blank


def _scored(score: Callable[[pd.DataFrame], Any], rows: pd.DataFrame, *,
            width: int) -> tuple[np.ndarray, np.ndarray]:
    """``score(rows)`` as float64 (``width`` columns, 0 for one value a row) with NaN where a
    row cannot be scored, and which rows those are. A value near 1e308 overflows a model's
    arithmetic: into NaN or infinity (``served.unscored``), or into a ValueError from a
    scikit-learn step that refuses infinite input, which blames the whole call; halving the
    rows until the error is one row's finds such rows in a few calls. Every row failing
    raises the error itself: that is the model or the file, not a few values."""
    def attempt(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        try:
            values = np.asarray(score(part), dtype=np.float64)
        except ValueError:
            if len(part) == 1:
                return np.full((1, width) if width else 1, np.nan), np.ones(1, dtype=bool)
            half = len(part) // 2
            first, second = attempt(part.iloc[:half]), attempt(part.iloc[half:])
            return (np.concatenate([first[0], second[0]]),
                    np.concatenate([first[1], second[1]]))
        blank = unscored(values)
        values[blank] = np.nan
        return values, blank

    values, blank = attempt(rows)
    if len(rows) and blank.all():
        score(rows)  # the error, if it was one, is the user's to see
    return values, blank


class _Writer:
    """Appends frames to a CSV or Parquet file."""

    def __init__(self, path: Path, *, parquet: bool) -> None:
        self.path, self.parquet = path, parquet
        self._parquet_writer: Any = None
        self._wrote_header = False

    def write(self, frame: pd.DataFrame) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet_writer is None:
                self._parquet_writer = pq.ParquetWriter(self.path, table.schema)
            self._parquet_writer.write_table(table)
            return
        frame.to_csv(self.path, mode="a" if self._wrote_header else "w", index=False,
                     header=not self._wrote_header)
        self._wrote_header = True

    def close(self) -> None:
        if self._parquet_writer is not None:
            self._parquet_writer.close()


@contextmanager
def _temporary_beside(output: Path) -> Iterator[Path]:
    """A temp file in ``output``'s folder, renamed onto it only if the block succeeds."""
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial",
                                    dir=output.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)


def predict_file(loaded: LoadedModel, input: Path, output: Path, *,
                 chunk_rows: int = 50_000, explain_top_k: int | None = None,
                 progress: Callable[[int], None] | None = None) -> BatchResult:
    """Predict every row of ``input`` (CSV/TSV, Parquet, JSONL, …) into ``output``.

    ``output`` is CSV, or Parquet when it ends in ``.parquet``: a ``prediction`` column and,
    for a classifier, one probability column per class named by its label, one row per input
    row in input order. Only one chunk of ``chunk_rows`` rows is in memory at a time, and
    ``output`` appears only when every row is written. ``progress`` gets the rows done so far.
    ``explain_top_k``: add each row's top contributions (``explain.contribution_columns``),
    or for an image or text network which pixels or words each rests on
    (``network_explain.explained_columns``: a heat map per image, drawn beside ``output``);
    a model that cannot be explained raises NotExplainable before anything is written.

    Example::

        result = predict_file(loaded, Path("new.csv"), Path("scored.csv"))
        print(f"{result.n_rows} rows in {result.seconds:.1f} s")
    """
    started = time.perf_counter()
    output = Path(output)
    explain = None if explain_top_k is None else _explaining(loaded, output, explain_top_k)
    n_rows = 0
    skipped: list[str] = []
    n_unscored, unscored_rows = 0, list[int]()
    folder = Path(input).is_dir()
    chunks = (_image_chunks(loaded, Path(input), chunk_rows, skipped) if folder
              else read_chunks(input, chunk_rows=chunk_rows, image_columns=[
                  f.name for f in loaded.model.features if f.dtype == "image"]))
    with _temporary_beside(output) as temporary:
        writer = _Writer(temporary, parquet=output.suffix.lower() == ".parquet")
        try:
            for chunk in chunks:
                try:
                    rows = chunk.reset_index(drop=True)
                    predicted, blank = _predictions_frame(loaded, rows)
                    if explain is not None:
                        predicted = pd.concat([predicted, explain(rows, n_rows + 1)], axis=1)
                    if folder:  # each row says which file it is for
                        predicted.insert(0, PATH, chunk.iloc[:, 0].to_numpy())
                except InvalidRequest as error:
                    raise UnreadableData(
                        str(input), f"rows {n_rows + 1}–{n_rows + len(chunk)} cannot be "
                        f"predicted ({error}; row numbers within that chunk)",
                        f"fix those rows for model {loaded.ref} (its features: "
                        f"{', '.join(f.name for f in loaded.model.features[:12])})") from error
                writer.write(predicted)
                blank_rows = np.flatnonzero(blank)
                n_unscored += len(blank_rows)
                unscored_rows += [n_rows + 1 + int(r) for r in
                                  blank_rows[:max(0, UNSCORED_SHOWN - len(unscored_rows))]]
                n_rows += len(chunk)
                if progress is not None:
                    progress(n_rows)
        finally:
            writer.close()
    return BatchResult(n_rows=n_rows, seconds=time.perf_counter() - started, output=output,
                       skipped=tuple(skipped), n_unscored=n_unscored,
                       unscored_rows=tuple(unscored_rows))


def _explaining(loaded: LoadedModel, output: Path, top_k: int
                ) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    """The explanation columns of a chunk of rows (given its first row's number), or
    NotExplainable at once."""
    why = refusal(loaded)
    if why is not None:
        raise NotExplainable(loaded.ref, why)
    if network_of(loaded) is not None:
        return lambda rows, first_row: explained_columns(loaded, rows, top_k=top_k,
                                                         output=output, first_row=first_row)
    explainer = explainer_for(loaded)
    return lambda rows, _: contribution_columns(explainer.explain(rows), rows, top_k=top_k)


IMAGE_CHUNK = 2_000  # images decoded per chunk: bounded memory whatever the folder's size


def _image_chunks(loaded: LoadedModel, folder: Path, chunk_rows: int,
                  skipped: list[str]) -> Iterator[pd.DataFrame]:
    """The folder's readable images (at any depth, sorted), as frames of the model's image
    feature; unreadable files are appended to ``skipped``."""
    from trainforge.data.images import list_images

    features = [f.name for f in loaded.model.features if f.dtype == "image"]
    if not features:
        raise UnreadableData(str(folder), f"is a folder, but model {loaded.ref} reads a table",
                             "give a CSV, Parquet or JSON file of its features")
    paths = list_images(folder, skipped=skipped)
    step = max(1, min(chunk_rows, IMAGE_CHUNK))
    for start in range(0, len(paths), step):
        yield pd.DataFrame({features[0]: paths[start:start + step]})
