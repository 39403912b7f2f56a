"""Model packages on S3 (or a shared folder): published manifest last, fetched and checked on
another machine, and never half visible."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest
from tests._paths import EXAMPLES

import trainforge as tf
from trainforge.algorithms.model import TabularModel
from trainforge.errors import ArtifactStoreError, ArtifactWriteFailed, ModelNotFound, PackageCorrupt
from trainforge.store.s3_artifacts import S3Artifacts
from trainforge.workspace import Workspace


@pytest.fixture
def on_s3(s3_url, tmp_path) -> Workspace:
    return Workspace(tmp_path / "trainer", artifacts_url=s3_url)


@pytest.fixture
def registered(on_s3: Workspace, classifier: TabularModel, lineage: dict) -> Workspace:
    """A workspace on S3 with ``credit:1`` registered."""
    on_s3.registry.register(classifier, name="credit", metrics={"roc_auc": 0.77}, lineage=lineage)
    return on_s3


def another_machine(ws: Workspace, tmp_path) -> Workspace:
    """A home with nothing in it, sharing the database and the bucket: a Ray worker's view."""
    return Workspace(tmp_path / "other", database_url=ws.database_url,
                     artifacts_url=ws.artifacts_url)


def bucket_keys(s3_url: str, under: str) -> list[str]:
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    found = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{under}")
    return sorted(item["Key"].removeprefix(f"{prefix}/") for item in found.get("Contents", []))


def replace_in_bucket(s3_url: str, key: str, content: bytes | None) -> None:
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3")
    if content is None:
        client.delete_object(Bucket=bucket, Key=f"{prefix}/{key}")
    else:
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=content)


def test_a_model_registered_on_one_machine_predicts_the_same_on_another(
        registered, classifier, credit, tmp_path):
    loaded = another_machine(registered, tmp_path).registry.load("credit:1")
    assert loaded.model.predict(credit.head(50)).tolist() == classifier.predict(
        credit.head(50)).tolist()


def test_a_fetched_package_is_cached_by_version_and_manifest_hash(registered, tmp_path):
    other = another_machine(registered, tmp_path)
    other.registry.load("credit:1")
    digest = registered.registry._row("credit", 1)["manifest_sha256"]
    assert (other.artifact_cache / "models" / "credit" / f"1-{digest[:16]}"
            / "manifest.json").is_file()


def test_the_manifest_is_written_to_the_bucket_last(on_s3, classifier, lineage, monkeypatch):
    written: list[str] = []
    put = S3Artifacts.put
    monkeypatch.setattr(S3Artifacts, "put",
                        lambda self, source, key: (written.append(key), put(self, source, key)))
    on_s3.registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    assert written.index("models/credit/1/manifest.json") == len(written) - 1 > 3


def test_a_registration_interrupted_half_way_leaves_no_version_and_no_package(
        on_s3, classifier, lineage, s3_url, monkeypatch):
    put = S3Artifacts.put

    def reset_on_the_estimator(self, source, key):
        if key.endswith(".skops") and "estimator" in key:
            raise ArtifactWriteFailed(f"{self.location}/{key}", "the connection was reset")
        put(self, source, key)

    monkeypatch.setattr(S3Artifacts, "put", reset_on_the_estimator)
    with pytest.raises(ArtifactWriteFailed, match="nothing was recorded"):
        on_s3.registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    with pytest.raises(ModelNotFound):
        on_s3.registry.load("credit")
    assert (bucket_keys(s3_url, "models/"),
            list((on_s3.artifacts / "models" / "credit").iterdir())) == ([], [])


def test_a_version_whose_manifest_is_missing_from_the_bucket_is_refused(registered, s3_url,
                                                                        tmp_path):
    replace_in_bucket(s3_url, "models/credit/1/manifest.json", None)
    with pytest.raises(PackageCorrupt, match="never completely written"):
        another_machine(registered, tmp_path).registry.load("credit:1")


def test_a_package_file_changed_in_the_bucket_is_refused_before_it_is_read(registered, s3_url,
                                                                           tmp_path):
    member = next(k for k in bucket_keys(s3_url, "models/credit/1/") if k.endswith(".skops"))
    replace_in_bucket(s3_url, member, b"tampered")
    other = another_machine(registered, tmp_path)
    with pytest.raises(ArtifactStoreError, match="does not match its recorded sha256"):
        other.registry.load("credit:1")
    assert list(other.artifact_cache.rglob("*.skops")) == []


def test_deleting_a_version_removes_its_package_from_the_bucket(registered, s3_url):
    registered.registry.delete("credit", 1)
    assert bucket_keys(s3_url, "models/credit/") == []


def test_a_model_registered_through_a_shared_folder_loads_in_another_home(
        tmp_path, classifier, credit, lineage):
    shared = tmp_path / "shared"
    shared.mkdir()
    here = Workspace(tmp_path / "here", artifacts_url=shared.as_uri())
    here.registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    there = Workspace(tmp_path / "there", database_url=here.database_url,
                      artifacts_url=shared.as_uri())
    assert there.registry.load("credit").model.predict(credit.head(5)).tolist() == (
        classifier.predict(credit.head(5)).tolist())


@pytest.mark.slow
def test_train_register_load_and_predict_go_through_the_bucket(on_s3, s3_url, tmp_path):
    credit = EXAMPLES / "credit_g.csv"
    tf.train(credit, target="class", name="credit", trials=1, algorithm="linear", workspace=on_s3)
    rows = pd.read_csv(credit).head(20)
    there = tf.load("credit:1",
                    workspace=another_machine(on_s3, tmp_path))
    assert there.predict(rows).tolist() == tf.load("credit:1", workspace=on_s3).predict(
        rows).tolist()
    assert "models/credit/1/report.html" in bucket_keys(s3_url, "models/credit/1/")
