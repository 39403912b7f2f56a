"""The store's records are typed: each TypedDict names exactly what its getters return."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainforge.store import tables
from trainforge.store.access import TokenRecord, UserRecord, create_token, create_user, list_users
from trainforge.store.datasets import DatasetRecord
from trainforge.store.deployments import DeploymentRecord
from trainforge.store.jobs import JobRecord, get_job, submit_job
from trainforge.store.runs import RunRecord, RunWithSeries, get_run, log_metric, start_run
from trainforge.store.uploads import UploadRecord
from trainforge.workspace import Workspace


def _keys(record: type) -> set[str]:
    return set(record.__required_keys__) | set(record.__optional_keys__)


@pytest.mark.parametrize(("record", "table", "left_out"), [
    (RunRecord, tables.runs, set()),
    (JobRecord, tables.jobs, set()),
    (DatasetRecord, tables.datasets, set()),
    (UploadRecord, tables.uploads, set()),
    (DeploymentRecord, tables.deployments, set()),
    (TokenRecord, tables.api_tokens, {"token_sha256"}),
    (UserRecord, tables.users, {"id", "password_hash"}),
])
def test_a_record_names_its_table_s_columns_less_its_secrets(record: type, table: object,
                                                              left_out: set[str]):
    assert _keys(record) == {c.name for c in table.columns} - left_out


def test_a_run_read_back_has_exactly_the_keys_of_its_record(tmp_path: Path):
    ws = Workspace(tmp_path)
    run_id = start_run(ws, kind="train", config={"seed": 0}, dataset_id=None)
    log_metric(ws, run_id, "loss", 0.5, step=0)
    assert set(get_run(ws, run_id)) == _keys(RunWithSeries)


def test_a_job_read_back_has_exactly_the_keys_of_its_record(tmp_path: Path):
    ws = Workspace(tmp_path)
    assert set(get_job(ws, submit_job(ws, kind="train", config={}))) == _keys(JobRecord)


def test_a_new_token_s_record_has_the_keys_of_a_listed_one(tmp_path: Path):
    _, record = create_token(Workspace(tmp_path), name="ci", role="viewer")
    assert set(record) == _keys(TokenRecord)


def test_a_listed_user_has_exactly_the_keys_of_its_record(tmp_path: Path):
    ws = Workspace(tmp_path)
    create_user(ws, username="ana", password="a long password 1", role="viewer")
    assert [set(user) for user in list_users(ws)] == [_keys(UserRecord)]
