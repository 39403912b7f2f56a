"""`predict --backend ray`: shards predicted by Ray Data on a local Ray (two CPUs, started by
the module), one output shard per input shard in its order, the same columns and values as the
local path, and a manifest written last."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
import ray
from tests._paths import EXAMPLES
from tests.server._jobs import EDITOR, upload

import trainforge as tf
from trainforge.errors import UnreadableData
from trainforge.jobs.predict import run_prediction
from trainforge.server.job_requests import PredictJob, submit
from trainforge.server.running import run_job
from trainforge.serving.batch import predict_file
from trainforge.store import jobs as job_store
from trainforge.workspace import Workspace

pytestmark = pytest.mark.cluster

WINE = EXAMPLES / "wine.csv"
SIZES = {"b.parquet": 50, "a.parquet": 7, "c.parquet": 121}  # sorted: a, b, c


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A Ray of two CPUs in this process, as `ray start` on one machine would give."""
    with pytest.MonkeyPatch.context() as patch:
        # a token in ~/.ray/auth_token would switch token auth on: as the Ray backend tests do
        patch.setenv("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield
        finally:
            ray.shutdown()


def _parquet_shards(folder: Path) -> Path:
    rows = pd.read_csv(WINE).drop(columns=["cultivar"])
    folder.mkdir(parents=True)
    start = 0
    for name, n_rows in SIZES.items():
        rows.iloc[start:start + n_rows].to_parquet(folder / name, index=False)
        start += n_rows
    return folder


def _local_predictions(workspace: Workspace, shard: Path, tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / f"local-{shard.stem}.parquet"
    predict_file(workspace.registry.load("wine"), shard, out)
    return pd.read_parquet(out)


def test_output_shard_i_is_input_shard_i_in_order_with_the_local_paths_values(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    shards = _parquet_shards(tmp_path / "in")
    # batches of 16 rows: a shard's rows come back in many batches, across actors
    outcome = run_prediction("wine", str(shards), str(tmp_path / "out"),
                             workspace=wine_workspace, backend="ray", chunk_rows=16)
    for i, name in enumerate(sorted(SIZES)):
        written = pd.read_parquet(tmp_path / "out" / f"part-{i:05d}.parquet")
        local = _local_predictions(wine_workspace, shards / name, tmp_path)
        assert list(written.columns) == list(local.columns) == [
            "prediction", "class_1", "class_2", "class_3"]
        assert written["prediction"].tolist() == local["prediction"].tolist()
        assert np.allclose(written.drop(columns="prediction"), local.drop(columns="prediction"))
    assert outcome.model == "wine:1" and outcome.batch.n_rows == sum(SIZES.values())


def test_the_manifest_pairs_each_shard_with_its_input_and_its_hash(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    shards = _parquet_shards(tmp_path / "in")
    run_prediction("wine:1", str(shards), str(tmp_path / "out"), workspace=wine_workspace,
                   backend="ray")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert (manifest["model"], manifest["rows_in"], manifest["rows_out"],
            manifest["unscored"]) == ("wine:1", 178, 178, 0)
    assert [(s["name"], Path(s["input"]).name, s["rows"]) for s in manifest["shards"]] == [
        ("part-00000.parquet", "a.parquet", 7), ("part-00001.parquet", "b.parquet", 50),
        ("part-00002.parquet", "c.parquet", 121)]
    assert all(hashlib.sha256((tmp_path / "out" / s["name"]).read_bytes()).hexdigest()
               == s["sha256"] for s in manifest["shards"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]


def test_a_shard_with_no_rows_keeps_its_place_with_an_empty_shard(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    rows = pd.read_csv(WINE).drop(columns=["cultivar"])
    (tmp_path / "in").mkdir()
    for name, part in (("a.csv", rows.iloc[:60]), ("b.csv", rows.iloc[:0]),
                       ("c.csv", rows.iloc[60:])):
        part.to_csv(tmp_path / "in" / name, index=False)
    outcome = run_prediction("wine", str(tmp_path / "in"), str(tmp_path / "out"),
                             workspace=wine_workspace, backend="ray", chunk_rows=25)
    assert [(s.name, Path(s.input).name, s.n_rows) for s in outcome.batch.shards] == [
        ("part-00000.csv", "a.csv", 60), ("part-00001.csv", "b.csv", 0),
        ("part-00002.csv", "c.csv", 118)]
    assert [len(pd.read_csv(tmp_path / "out" / f"part-0000{i}.csv")) for i in range(3)] == [
        60, 0, 118]


def test_rows_the_model_cannot_score_are_left_empty_counted_and_named(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    shards = _parquet_shards(tmp_path / "in")
    rows = pd.read_parquet(shards / "b.parquet")
    rows.loc[[1, 4], "alcohol"] = 1.7e308  # overflows the linear model's arithmetic
    rows.to_parquet(shards / "b.parquet", index=False)
    outcome = run_prediction("wine", str(shards), str(tmp_path / "out"),
                             workspace=wine_workspace, backend="ray")
    written = pd.read_parquet(tmp_path / "out" / "part-00001.parquet")
    assert written["prediction"].isna().tolist() == [i in (1, 4) for i in range(50)]
    assert (outcome.batch.n_unscored, outcome.batch.unscored_rows) == (
        2, ("part-00001.parquet:2", "part-00001.parquet:5"))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["unscored"] for s in manifest["shards"]] == [0, 2, 0]


def test_csv_shards_give_csv_shards_with_the_local_paths_values(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    rows = pd.read_csv(WINE).drop(columns=["cultivar"])
    (tmp_path / "in").mkdir()
    rows.iloc[:100].to_csv(tmp_path / "in" / "one.csv", index=False)
    rows.iloc[100:].to_csv(tmp_path / "in" / "two.csv", index=False)
    run_prediction("wine", str(tmp_path / "in" / "*.csv"), str(tmp_path / "out"),
                   workspace=wine_workspace, backend="ray", chunk_rows=32)
    for i, name in enumerate(["one.csv", "two.csv"]):
        written = pd.read_csv(tmp_path / "out" / f"part-{i:05d}.csv")
        predict_file(wine_workspace.registry.load("wine"), tmp_path / "in" / name,
                     tmp_path / f"local-{name}")
        local = pd.read_csv(tmp_path / f"local-{name}")
        assert written["prediction"].tolist() == local["prediction"].tolist()
        assert np.allclose(written.drop(columns="prediction"), local.drop(columns="prediction"))


def test_a_shard_that_cannot_be_read_halfway_fails_naming_it_and_leaves_no_manifest(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    rows = pd.read_csv(WINE).drop(columns=["cultivar"])
    (tmp_path / "in").mkdir()
    rows.iloc[:100].to_csv(tmp_path / "in" / "good.csv", index=False)
    spoilt = rows.iloc[100:].astype({"alcohol": object})
    spoilt.loc[150, "alcohol"] = "unknown"  # past the header and first rows the check reads
    spoilt.to_csv(tmp_path / "in" / "spoilt.csv", index=False)
    with pytest.raises(UnreadableData, match="spoilt.csv"):
        run_prediction("wine", str(tmp_path / "in"), str(tmp_path / "out"),
                       workspace=wine_workspace, backend="ray")
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_the_cli_predicts_shards_on_ray(local_ray: None, wine_workspace: Workspace,
                                        tmp_path: Path, cli):
    shards = _parquet_shards(tmp_path / "in")
    done = cli("predict", "wine", str(shards), "-o", str(tmp_path / "out"), "--backend", "ray",
               home=wine_workspace.home)
    assert done.returncode == 0, done.stderr
    assert "wrote 178 predictions of wine:1" in done.stderr
    assert len(pd.read_parquet(tmp_path / "out" / "part-00002.parquet")) == 121


def test_the_sdk_predicts_shards_on_ray(local_ray: None, wine_workspace: Workspace,
                                        tmp_path: Path):
    shards = _parquet_shards(tmp_path / "in")
    outcome = tf.predict_batch("wine", shards, tmp_path / "out", backend="ray",
                               workspace=wine_workspace)
    assert [shard.n_rows for shard in outcome.batch.shards] == [7, 50, 121]


def test_a_predict_job_on_the_ray_backend_writes_shards_under_the_artifacts(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    pd.read_csv(WINE).drop(columns=["cultivar"]).to_csv(tmp_path / "rows.csv", index=False)
    dataset = upload(wine_workspace, tmp_path / "rows.csv")
    queued = submit(wine_workspace, PredictJob(kind="predict", model="wine", dataset=dataset,
                                               backend="ray"), EDITOR)
    job = job_store.claim_job(wine_workspace, worker="test")
    assert job is not None and job["id"] == queued["id"]
    result = run_job(wine_workspace, job)
    output = wine_workspace.artifacts / "jobs" / job["id"] / "predictions"
    assert result["output"] == str(output) and result["rows"] == 178
    assert len(pd.read_csv(output / "part-00000.csv")) == 178
    assert json.loads((output / "manifest.json").read_text())["model"] == "wine:1"


@ray.remote(num_cpus=1)
def _predict_in_a_task(workspace: Workspace, source: str, output: str) -> int:
    outcome = run_prediction("wine", source, output, workspace=workspace, backend="ray")
    return outcome.batch.n_rows


def test_inside_a_ray_task_holding_a_cpu_the_prediction_still_gets_cpus(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path):
    # as the server's Ray backend runs a job: its task holds one of the two CPUs throughout
    shards = _parquet_shards(tmp_path / "in")
    rows = ray.get(_predict_in_a_task.remote(wine_workspace, str(shards),
                                             str(tmp_path / "out")), timeout=600)
    assert rows == 178 and (tmp_path / "out" / "manifest.json").is_file()


def test_shards_on_s3_are_predicted_into_shards_on_s3(
        local_ray: None, wine_workspace: Workspace, tmp_path: Path, s3_url: str):
    shards = _parquet_shards(tmp_path / "in")
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    s3 = boto3.client("s3")
    for name in SIZES:
        s3.upload_file(str(shards / name), bucket, f"{prefix}/in/{name}")
    # the read tasks get the S3 filesystem from this process, endpoint and keys included
    run_prediction("wine", f"{s3_url}/in/", f"{s3_url}/out", workspace=wine_workspace,
                   backend="ray")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/out/manifest.json")
                          ["Body"].read())
    assert [(s["input"], s["rows"]) for s in manifest["shards"]] == [
        (f"{s3_url}/in/{name}", SIZES[name]) for name in sorted(SIZES)]
    body = s3.get_object(Bucket=bucket, Key=f"{prefix}/out/part-00002.parquet")["Body"].read()
    (tmp_path / "back.parquet").write_bytes(body)
    local = _local_predictions(wine_workspace, shards / "c.parquet", tmp_path)
    assert pd.read_parquet(tmp_path / "back.parquet")["prediction"].tolist() == local[
        "prediction"].tolist()
