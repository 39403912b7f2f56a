"""Batch prediction's shards, checked before Ray reads a row: which files an input names, that
each can be read and holds the model's columns, that the output is new; and the manifest."""

from __future__ import annotations

import json
import os
import pickle
import socket
import time
from pathlib import Path

import pandas as pd
import pyarrow.fs
import pytest
from tests._paths import EXAMPLES

from trainforge.errors import (
    ColumnNotFound,
    NoShards,
    NoSuchBucket,
    OutputExists,
    RayUnreachable,
    UnreadableData,
)
from trainforge.jobs.predict import run_prediction
from trainforge.serving.shards import (
    MANIFEST,
    list_shards,
    locate,
    plan_shards,
    read_manifest,
    refuse_existing,
    write_manifest,
)
from trainforge.workspace import Workspace

WINE = EXAMPLES / "wine.csv"


@pytest.fixture
def wine_rows() -> pd.DataFrame:
    return pd.read_csv(WINE).drop(columns=["cultivar"])


def _shards(folder: Path, frame: pd.DataFrame, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        frame.iloc[i * 10:(i + 1) * 10].to_parquet(folder / name, index=False)
    return folder


def test_a_folder_gives_its_parquet_files_at_any_depth_sorted_by_path(tmp_path: Path,
                                                                      wine_rows: pd.DataFrame):
    folder = _shards(tmp_path / "in", wine_rows, ["b.parquet", "a.parquet"])
    _shards(folder / "2024", wine_rows, ["c.parquet"])
    (folder / "_SUCCESS").touch()
    (folder / ".d.parquet.partial").touch()
    (folder / "notes.txt").write_text("not a shard")
    assert [Path(s.path).relative_to(folder).as_posix() for s in list_shards(locate(
        str(folder)))] == ["2024/c.parquet", "a.parquet", "b.parquet"]


def test_a_glob_gives_only_the_files_it_matches(tmp_path: Path, wine_rows: pd.DataFrame):
    folder = _shards(tmp_path / "in", wine_rows, ["part-1.parquet", "part-2.parquet",
                                                  "other.parquet"])
    found = list_shards(locate(f"{folder}/part-*.parquet"))
    assert [Path(s.path).name for s in found] == ["part-1.parquet", "part-2.parquet"]


def test_a_single_file_is_one_shard(tmp_path: Path, wine_rows: pd.DataFrame):
    folder = _shards(tmp_path / "in", wine_rows, ["only.parquet"])
    assert [s.url for s in list_shards(locate(str(folder / "only.parquet")))] == [
        str(folder / "only.parquet")]


def test_a_folder_without_parquet_or_csv_says_so(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.json").write_text("[]")
    with pytest.raises(NoShards, match=r"in: holds no \.parquet or \.csv file"):
        list_shards(locate(str(tmp_path / "in")))


def test_a_path_that_is_not_there_says_so(tmp_path: Path):
    with pytest.raises(NoShards, match="nothing is there"):
        list_shards(locate(str(tmp_path / "missing")))


def test_parquet_and_csv_shards_together_are_refused(tmp_path: Path, wine_rows: pd.DataFrame):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet"])
    wine_rows.head(3).to_csv(folder / "b.csv", index=False)
    with pytest.raises(UnreadableData, match="mixes Parquet and CSV shards"):
        list_shards(locate(str(folder)))


def test_a_shard_lacking_a_column_of_the_model_is_named_with_the_column(
        tmp_path: Path, wine_rows: pd.DataFrame, wine_workspace: Workspace):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet", "b.parquet"])
    wine_rows.iloc[20:30].drop(columns=["alcohol"]).to_parquet(folder / "c.parquet")
    with pytest.raises(ColumnNotFound, match=r"column 'alcohol' is not in \S+/c\.parquet"):
        plan_shards(wine_workspace.registry, "wine", str(folder), str(tmp_path / "out"))


def test_a_csv_shard_lacking_a_column_is_named_by_its_header(
        tmp_path: Path, wine_rows: pd.DataFrame, wine_workspace: Workspace):
    folder = tmp_path / "in"
    folder.mkdir()
    wine_rows.head(5).to_csv(folder / "a.csv", index=False)
    wine_rows.head(5).drop(columns=["magnesium"]).to_csv(folder / "b.csv", index=False)
    with pytest.raises(ColumnNotFound, match=r"column 'magnesium' is not in \S+/b\.csv"):
        plan_shards(wine_workspace.registry, "wine", str(folder), str(tmp_path / "out"))


def test_a_shard_with_text_where_the_model_reads_numbers_is_named(
        tmp_path: Path, wine_rows: pd.DataFrame, wine_workspace: Workspace):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet"])
    wine_rows.head(5).astype({"alcohol": str}).to_parquet(folder / "b.parquet")
    with pytest.raises(UnreadableData, match=r"b\.parquet: column 'alcohol' holds (large_)?string"):
        plan_shards(wine_workspace.registry, "wine", str(folder), str(tmp_path / "out"))


def test_a_shard_that_is_not_parquet_is_named_as_unreadable(
        tmp_path: Path, wine_rows: pd.DataFrame, wine_workspace: Workspace):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet"])
    (folder / "b.parquet").write_bytes(b"PAR1 this was cut short")
    with pytest.raises(UnreadableData, match=r"b\.parquet: is not a readable parquet file"):
        plan_shards(wine_workspace.registry, "wine", str(folder), str(tmp_path / "out"))


def test_an_output_that_holds_files_is_refused(tmp_path: Path, wine_rows: pd.DataFrame,
                                               wine_workspace: Workspace):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet"])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "part-00000.parquet").write_bytes(b"an earlier run's")
    with pytest.raises(OutputExists, match=r"out: exists already \(it holds part-00000"):
        plan_shards(wine_workspace.registry, "wine", str(folder), str(tmp_path / "out"))
    assert (tmp_path / "out" / "part-00000.parquet").read_bytes() == b"an earlier run's"


def test_an_output_that_is_a_file_is_refused(tmp_path: Path):
    (tmp_path / "out.csv").write_text("x\n1\n")
    with pytest.raises(OutputExists, match="a file"):
        refuse_existing(locate(str(tmp_path / "out.csv")))


def test_an_empty_or_missing_output_folder_is_accepted(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    refuse_existing(locate(str(tmp_path / "empty")))
    refuse_existing(locate(str(tmp_path / "new")))


def test_the_plan_resolves_the_model_to_the_version_every_worker_will_load(
        tmp_path: Path, wine_rows: pd.DataFrame, wine_workspace: Workspace):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet", "b.parquet"])
    plan = plan_shards(wine_workspace.registry, "wine", str(folder), str(tmp_path / "out"))
    assert plan.model == "wine:1"
    assert [shard.n_rows for shard in plan.shards] == [10, 10]


def test_the_manifest_appears_whole_with_nothing_partial_beside_it(tmp_path: Path):
    output = locate(str(tmp_path / "out"))
    write_manifest(output, {"model": "wine:1", "shards": [{"name": "part-00000.parquet"}]})
    assert os.listdir(tmp_path / "out") == [MANIFEST]
    assert read_manifest(output) == {"format": 1, "model": "wine:1",
                                     "shards": [{"name": "part-00000.parquet"}]}
    assert json.loads((tmp_path / "out" / MANIFEST).read_text())["model"] == "wine:1"


def test_bad_shards_are_refused_before_ray_is_joined(tmp_path: Path, wine_rows: pd.DataFrame,
                                                     wine_workspace: Workspace):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet"])
    wine_rows.head(5).drop(columns=["hue"]).to_parquet(folder / "b.parquet")
    # an address nothing answers: the shard's error comes first, so Ray was never tried
    with pytest.raises(ColumnNotFound, match="'hue'"):
        run_prediction("wine", str(folder), str(tmp_path / "out"), workspace=wine_workspace,
                       backend="ray", ray_address="127.0.0.1:1")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # imports Ray
def test_a_ray_address_that_does_not_answer_is_a_clear_error_within_seconds(
        tmp_path: Path, wine_rows: pd.DataFrame, wine_workspace: Workspace):
    folder = _shards(tmp_path / "in", wine_rows, ["a.parquet"])
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(RayUnreachable, match="--ray-address"):
        run_prediction("wine", str(folder), str(tmp_path / "out"), workspace=wine_workspace,
                       backend="ray", ray_address=address)
    assert time.monotonic() - started < 10.0
    assert not (tmp_path / "out").exists()


def test_an_s3_bucket_that_does_not_exist_is_named_with_the_endpoint(s3_url: str):
    missing = "s3://no-such-bucket-here/shards/"
    with pytest.raises(NoSuchBucket, match=r"s3://no-such-bucket-here/shards: the bucket "
                                           r"'no-such-bucket-here' does not exist at http"):
        locate(missing)


def test_shards_under_an_s3_prefix_are_listed_sorted(s3_url: str, tmp_path: Path,
                                                     wine_rows: pd.DataFrame):
    folder = _shards(tmp_path / "in", wine_rows, ["b.parquet", "a.parquet"])
    source = locate(f"{s3_url}/in/")
    pyarrow.fs.copy_files(str(folder), source.path,
                          source_filesystem=pyarrow.fs.LocalFileSystem(),
                          destination_filesystem=source.filesystem)
    assert [s.url for s in list_shards(source)] == [f"{s3_url}/in/a.parquet",
                                                    f"{s3_url}/in/b.parquet"]


def test_an_error_raised_in_a_ray_actor_arrives_with_its_message_and_class():
    # Ray hands an actor's exception to the driver pickled: it must come back as raised
    raised = UnreadableData("s3://in/b.parquet", "rows cannot be predicted", "fix those rows")
    arrived = pickle.loads(pickle.dumps(raised))
    assert type(arrived) is UnreadableData and str(arrived) == str(raised)
