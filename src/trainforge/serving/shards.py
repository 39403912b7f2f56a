"""Batch prediction's shards: where they are, whether a model can read them, and the manifest
that says an output is complete.

An input is a Parquet or CSV file, a folder of them (at any depth), or a glob
(``data/part-*.parquet``), on this machine or under ``s3://bucket/prefix`` (endpoint, region
and credentials from the usual AWS variables, as the artifact store reads them). Its shards
are sorted by path, and every one is checked (its footer or header only) before a row is
predicted: a shard lacking one of the model's columns, or that cannot be read, is named then.
An output is a folder or prefix that holds nothing yet; ``manifest.json`` is written into it
last, so an output without one is not complete.
"""

from __future__ import annotations

import fnmatch
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv
import pyarrow.fs
import pyarrow.parquet as pq

from trainforge.errors import (
    ArtifactStoreError,
    BucketNotFound,
    ColumnNotFound,
    ConfigError,
    NoShards,
    NoSuchBucket,
    OutputExists,
    UnreadableData,
)
from trainforge.registry.registry import Registry

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_GLOB = set("*?[")


@dataclass(frozen=True)
class Location:
    """A local path or an ``s3://`` URL, and the pyarrow filesystem that reaches it."""

    url: str  # as the user gave it (a trailing / dropped): what messages and manifests show
    filesystem: pyarrow.fs.FileSystem
    path: str  # on that filesystem: an absolute local path, or BUCKET/KEY

    @property
    def on_s3(self) -> bool:
        return self.url.startswith("s3://")

    def url_of(self, path: str) -> str:
        """The URL of ``path``, a path on this location's filesystem."""
        return f"s3://{path}" if self.on_s3 else path

    def join(self, name: str) -> str:
        """The filesystem path of ``name`` inside this folder or prefix."""
        return f"{self.path}/{name}"


@dataclass(frozen=True)
class Shard:
    """One input file."""

    path: str  # on the input's filesystem (what Ray Data names it by)
    url: str
    format: str  # "parquet" or "csv"
    n_rows: int | None  # a Parquet footer says; a CSV's are counted while it is read


@dataclass(frozen=True)
class ShardPlan:
    """A batch prediction checked and ready to run: which model, which shards, where to."""

    model: str  # NAME:VERSION, so that every worker loads the same version
    features: tuple[dict[str, str], ...]  # the model's signature: name, kind, dtype
    inputs: Location
    shards: tuple[Shard, ...]
    target: Location


def plan_shards(registry: Registry, ref: str, source: str, output: str) -> ShardPlan:
    """Everything checked before a row is predicted: the model exists and reads tables; the
    shards exist, can be read and hold its columns; ``output`` holds nothing yet."""
    name, version = registry.resolve(ref)
    model = f"{name}:{version}"
    features = tuple(registry.show(model)["signature"])
    if any(feature["dtype"] == "image" for feature in features):
        raise ConfigError(f"model {model} reads images: predict a folder of them without "
                          "--backend ray")
    inputs = locate(source)
    shards = checked_shards(list_shards(inputs), inputs.filesystem, model=model,
                            features=features)
    target = locate(output)
    refuse_existing(target)
    return ShardPlan(model=model, features=features, inputs=inputs, shards=tuple(shards),
                     target=target)


def locate(url: str) -> Location:
    """Where ``url`` is: ``s3://BUCKET/…`` (the bucket checked, NoSuchBucket if it is not there),
    else a path on this machine."""
    url = url.rstrip("/") if len(url) > 1 else url
    if not url.startswith("s3://"):
        return Location(url, pyarrow.fs.LocalFileSystem(), str(Path(url).expanduser().absolute()))
    # imported here: boto3 is the [s3] extra, which local batch prediction never needs
    from trainforge.store.s3_artifacts import S3Artifacts, arrow_filesystem

    bucket = S3Artifacts(f"s3://{url.removeprefix('s3://').split('/', 1)[0]}")
    try:
        bucket.check()
    except BucketNotFound:
        raise NoSuchBucket(url, bucket.endpoint) from None
    except ArtifactStoreError as error:  # wrong credentials, no answer: its message says which
        raise UnreadableData(url, str(error), "check the AWS variables") from None
    return Location(url, arrow_filesystem(), url.removeprefix("s3://"))


def list_shards(source: Location) -> list[Shard]:
    """The Parquet or CSV files ``source`` names, sorted by path; names starting with ``.`` or
    ``_`` (``_SUCCESS``, a half-written ``.part``) are not shards."""
    if _GLOB & set(source.path):
        pattern = source.path
        base = pattern[:min(pattern.index(c) for c in _GLOB if c in pattern)].rpartition("/")[0]
        found = [info for info in _files_under(source, base or "/")
                 if fnmatch.fnmatchcase(info.path, pattern)]
    else:
        info = source.filesystem.get_file_info(source.path)
        if info.type == pyarrow.fs.FileType.NotFound:
            raise NoShards(source.url, "nothing is there")
        found = [info] if info.type == pyarrow.fs.FileType.File else _files_under(
            source, source.path)
    shards = sorted(info.path for info in found if _format_of(info.path) is not None
                     and not info.base_name.startswith((".", "_")))
    if not shards:
        raise NoShards(source.url, "holds no .parquet or .csv file")
    formats = {_format_of(path) for path in shards}
    if len(formats) > 1:
        raise UnreadableData(source.url, "mixes Parquet and CSV shards",
                             "predict each format on its own")
    return [Shard(path=path, url=source.url_of(path), format=str(_format_of(path)),
                  n_rows=None) for path in shards]


def _files_under(source: Location, folder: str) -> list[pyarrow.fs.FileInfo]:
    selector = pyarrow.fs.FileSelector(folder, recursive=True, allow_not_found=True)
    return [info for info in source.filesystem.get_file_info(selector)
            if info.type == pyarrow.fs.FileType.File]


def _format_of(path: str) -> str | None:
    return FORMATS.get(Path(path).suffix.lower())


def checked_shards(shards: Sequence[Shard], filesystem: pyarrow.fs.FileSystem, *,
                   features: Sequence[dict[str, str]], model: str) -> list[Shard]:
    """``shards`` with their row counts where a footer gives them, once each is known to be
    readable and to hold every column of ``features`` (the model's signature), numbers where
    it reads numbers (else UnreadableData or ColumnNotFound, naming the shard)."""
    checked = []
    names = [feature["name"] for feature in features]
    for shard in shards:
        schema, n_rows = _schema_of(shard, filesystem)
        missing = [name for name in names if name not in schema.names]
        if missing:
            raise ColumnNotFound(missing[0], shard.url, schema.names,
                                 f"that shard: model {model} reads {', '.join(names[:12])}")
        for feature in features:
            kind = schema.field(feature["name"]).type
            if feature["dtype"] == "number" and not _numeric(kind) and shard.format == "parquet":
                raise UnreadableData(shard.url, f"column {feature['name']!r} holds {kind}, but "
                                     f"model {model} reads numbers there",
                                     "write that column as numbers, as the other shards do")
        checked.append(Shard(path=shard.path, url=shard.url, format=shard.format,
                             n_rows=n_rows))
    return checked


def _schema_of(shard: Shard, filesystem: pyarrow.fs.FileSystem) -> tuple[pa.Schema, int | None]:
    """The shard's columns (a Parquet footer's types; a CSV's header, typed from its first
    block), and its rows where the footer says."""
    try:
        if shard.format == "parquet":
            with filesystem.open_input_file(shard.path) as handle:
                metadata = pq.read_metadata(handle)
            return metadata.schema.to_arrow_schema(), metadata.num_rows
        with filesystem.open_input_stream(shard.path) as stream:
            return pyarrow.csv.open_csv(stream).schema, None
    except (pa.ArrowInvalid, OSError) as error:
        raise UnreadableData(shard.url, f"is not a readable {shard.format} file ({error})",
                             "replace it, or leave it out of the input") from None


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_decimal(kind) or pa.types.is_null(kind))


def refuse_existing(output: Location) -> None:
    """OutputExists when ``output`` is a file, or a folder or prefix that holds anything."""
    info = output.filesystem.get_file_info(output.path)
    if info.type == pyarrow.fs.FileType.File:
        raise OutputExists(output.url, "a file")
    if info.type == pyarrow.fs.FileType.Directory:
        inside = output.filesystem.get_file_info(pyarrow.fs.FileSelector(output.path))
        if inside:
            raise OutputExists(output.url, f"it holds {inside[0].base_name}"
                                           + (f" and {len(inside) - 1} more" if len(inside) > 1
                                              else ""))


def put_file(local: Path, output: Location, name: str) -> None:
    """Copy the local file ``local`` to ``name`` in ``output`` (streamed; multipart on S3)."""
    if not output.on_s3:
        output.filesystem.create_dir(output.path, recursive=True)
    pyarrow.fs.copy_files(str(local), output.join(name),
                          source_filesystem=pyarrow.fs.LocalFileSystem(),
                          destination_filesystem=output.filesystem)


def write_manifest(output: Location, manifest: dict[str, Any]) -> None:
    """``manifest.json`` in ``output``: written last, in one piece (an S3 PUT, a local rename)."""
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(scratch) / MANIFEST
        local.write_text(json.dumps({"format": MANIFEST_FORMAT, **manifest}, indent=2))
        if output.on_s3:
            put_file(local, output, MANIFEST)
            return
        put_file(local, output, f".{MANIFEST}.partial")
        output.filesystem.move(output.join(f".{MANIFEST}.partial"), output.join(MANIFEST))


def read_manifest(output: Location) -> dict[str, Any]:
    """The manifest of a complete output (what ``write_manifest`` wrote)."""
    with output.filesystem.open_input_stream(output.join(MANIFEST)) as stream:
        manifest: dict[str, Any] = json.loads(stream.read())
    return manifest
