"""The S3 artifact store against a real S3 server: files go up streamed and come back checked;
what is wrong with the settings is said at the first use, naming the bucket and the endpoint
and never the secret key."""

from __future__ import annotations

import hashlib
import os
import socket
import time

import boto3
import pytest

from trainforge.errors import (
    ArtifactMissing,
    ArtifactStoreDenied,
    ArtifactStoreError,
    ArtifactStoreUnreachable,
    BadArtifactsUrl,
    BucketNotFound,
)
from trainforge.store.artifacts import open_artifact_store


def test_a_file_put_in_the_bucket_comes_back_with_its_hash_checked(s3_url, tmp_path):
    store = open_artifact_store(s3_url)
    source = tmp_path / "a.csv"
    source.write_bytes(b"x,y\n1,2\n")
    store.put(source, "uploads/1/a.csv")
    store.get("uploads/1/a.csv", tmp_path / "back.csv",
              sha256=hashlib.sha256(b"x,y\n1,2\n").hexdigest())
    assert (tmp_path / "back.csv").read_bytes() == b"x,y\n1,2\n"


def test_a_file_that_does_not_match_its_hash_is_refused_and_not_left_behind(s3_url, tmp_path):
    store = open_artifact_store(s3_url)
    (tmp_path / "a.csv").write_bytes(b"changed")
    store.put(tmp_path / "a.csv", "uploads/1/a.csv")
    with pytest.raises(ArtifactStoreError, match="does not match its recorded sha256"):
        store.get("uploads/1/a.csv", tmp_path / "back" / "a.csv", sha256="0" * 64)
    assert os.listdir(tmp_path / "back") == []


def test_a_missing_key_is_named_in_the_error(s3_url, tmp_path):
    store = open_artifact_store(s3_url)
    with pytest.raises(ArtifactMissing, match=f"{s3_url}/models/x/1/manifest.json is missing"):
        store.get("models/x/1/manifest.json", tmp_path / "m.json", sha256="0" * 64)


def test_listing_existence_and_deletion_agree_on_the_keys(s3_url, tmp_path):
    store = open_artifact_store(s3_url)
    (tmp_path / "f").write_bytes(b"1")
    for key in ("models/a/1/x", "models/a/1/y", "models/a/2/x"):
        store.put(tmp_path / "f", key)
    store.delete(["models/a/1/x"])
    assert (store.list("models/a/1/"), store.exists("models/a/1/x"),
            store.exists("models/a/2/x")) == (["models/a/1/y"], False, True)


def test_a_large_file_goes_up_in_parts(s3_url, s3_server, tmp_path):
    store = open_artifact_store(s3_url)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 2**20))  # past the 8 MiB multipart threshold
    store.put(big, "uploads/2/big.bin")
    client = boto3.client("s3", endpoint_url=s3_server.endpoint)
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    etag = client.head_object(Bucket=bucket, Key=f"{prefix}/uploads/2/big.bin")["ETag"]
    assert etag.strip('"').endswith("-2")  # a multipart upload's ETag counts its parts


def test_a_wrong_secret_key_is_refused_naming_the_bucket_but_not_the_key(s3_url, s3_server,
                                                                        monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key")
    with pytest.raises(ArtifactStoreDenied, match=f"{s3_url} at {s3_server.endpoint} refused "
                       "the credentials") as refused:
        open_artifact_store(s3_url).check()
    assert "not-the-secret-key" not in str(refused.value)


def test_a_bucket_that_does_not_exist_is_named(s3_url, s3_server):
    with pytest.raises(BucketNotFound, match="s3://no-such-bucket/x does not exist"):
        open_artifact_store("s3://no-such-bucket/x").check()


def test_an_endpoint_that_does_not_answer_is_named_within_seconds(s3_url, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    started = time.monotonic()
    with pytest.raises(ArtifactStoreUnreachable, match=f"does not answer at {endpoint}"):
        open_artifact_store(s3_url).check()
    assert time.monotonic() - started < 10


def test_a_bucket_name_s3_would_refuse_is_refused_before_any_request():
    with pytest.raises(BadArtifactsUrl, match="has no valid bucket name"):
        open_artifact_store("s3://Not_A_Bucket/x")


def test_the_server_does_not_start_with_credentials_the_bucket_refuses(s3_url, monkeypatch,
                                                                      cli, home):
    monkeypatch.setenv("TRAINFORGE_ARTIFACTS", s3_url)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key")
    done = cli("server", home=home)
    assert done.returncode == 5
    assert "refused the credentials" in done.stderr + done.stdout
