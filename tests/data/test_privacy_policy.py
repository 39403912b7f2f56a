"""--pii: what each policy does to the flagged columns of a table, and the transform a model
keeps so that its requests go through the same."""

from __future__ import annotations

import pandas as pd
import pytest

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.privacy import scan_privacy
from trainforge.data.privacy_policy import InputPrivacy, apply_policy, keyed_hash, new_hash_key
from trainforge.data.schema import infer_schema

KEY = b"k" * 32
IPS = ["10.0.0.1", "192.168.4.20", "172.16.9.3", "8.8.4.4"]


def people() -> Dataset:
    frame = pd.DataFrame({
        "ip": IPS * 10,
        "email": [f"user{i}@example.com" for i in range(40)],
        "note": ["call me at 555-234-5678 please" if i % 4 == 0 else "fine" for i in range(40)],
        "age": range(40),
        "label": ["a", "b"] * 20})
    return Dataset(frame, infer_schema(frame), "people.csv")


def policy(name: str, dataset: Dataset | None = None, target: str = "label"):  # type: ignore[no-untyped-def]
    dataset = dataset or people()
    return apply_policy(dataset, scan_privacy(dataset), policy=name,  # type: ignore[arg-type]
                        target=target, key=KEY)


def test_warn_trains_on_the_table_as_given_and_says_which_column_holds_what():
    outcome = policy("warn")
    assert outcome.dataset.frame.equals(people().frame) and outcome.inputs is None
    assert outcome.actions["ip"].startswith("trained on column 'ip', which holds IP addresses")


def test_drop_removes_the_flagged_columns():
    outcome = policy("drop")
    assert outcome.dataset.columns == ["email", "age", "label"]
    assert outcome.actions["note"].startswith("dropped column 'note'")


def test_an_id_column_is_left_out_whatever_the_policy_and_the_action_says_so():
    assert "an id is never a feature" in policy("drop").actions["email"]


def test_hash_gives_equal_values_equal_hashes_and_makes_them_categories():
    outcome = policy("hash")
    hashed = outcome.dataset.frame["ip"]
    assert hashed.nunique() == len(IPS) and not set(hashed) & set(IPS)
    assert outcome.dataset.schema["ip"] is ColumnKind.CATEGORICAL


def test_the_target_is_never_changed():
    dataset = people()
    outcome = policy("hash", dataset, target="ip")
    assert outcome.dataset.frame["ip"].tolist() == dataset.frame["ip"].tolist()
    assert "never changes the target" in outcome.actions["ip"]


def test_mask_keeps_the_other_words_of_free_text():
    assert policy("mask").dataset.frame["note"][0] == "call me at <PHONE> please"


def test_mask_turns_a_column_of_personal_values_into_its_placeholder():
    outcome = policy("mask")
    assert set(outcome.dataset.frame["ip"]) == {"<IP_ADDRESS>"}


def test_the_kept_transform_gives_a_request_what_training_saw():
    outcome = policy("hash")
    assert outcome.inputs is not None
    request = pd.DataFrame({"ip": [IPS[1]], "note": ["fine"]})
    assert outcome.inputs.apply(request)["ip"][0] == outcome.dataset.frame["ip"][1]


def test_a_number_hashes_as_it_does_when_read_as_a_float():
    assert keyed_hash(KEY, 4155550123) == keyed_hash(KEY, 4155550123.0)


def test_hashes_under_another_key_differ():
    assert keyed_hash(KEY, "10.0.0.1") != keyed_hash(new_hash_key(), "10.0.0.1")


def test_missing_values_stay_missing():
    out = InputPrivacy(hashed=("ip",), key=KEY).apply(pd.DataFrame({"ip": [None, "10.0.0.1"]}))
    assert out["ip"].isna().tolist() == [True, False]


def test_the_key_is_never_in_the_transforms_repr_or_manifest():
    inputs = InputPrivacy(hashed=("ip",), key=KEY)
    assert "kkkk" not in repr(inputs) and "kkkk" not in str(inputs.to_manifest())


@pytest.mark.parametrize("name", ["drop", "hash", "mask"])
def test_a_table_without_personal_data_is_trained_as_given(name):
    frame = pd.DataFrame({"x": range(30), "label": ["a", "b", "c"] * 10})
    dataset = Dataset(frame, infer_schema(frame), "plain.csv")
    outcome = apply_policy(dataset, scan_privacy(dataset), policy=name,  # type: ignore[arg-type]
                           target="label", key=KEY)
    assert outcome.dataset.frame.equals(frame) and outcome.actions == {}
