"""Personal data in a table: each kind found when its check passes and not when it fails, per
column with a confidence, and never shown as it is."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.personal_values import PersonalKind, find_personal, mask_text, mask_value
from trainforge.data.privacy import SAMPLE_VALUES, flagged_columns, scan_column
from trainforge.data.profile import profile
from trainforge.data.read import read_table
from trainforge.data.schema import infer_schema

# (kind, a value that passes its check, the same value with the check broken)
CHECKED = [
    (PersonalKind.CARD, "4242 4242 4242 4242", "4242 4242 4242 4241"),  # Luhn
    (PersonalKind.CARD, "378282246310005", "378282246310006"),  # Amex, Luhn
    (PersonalKind.IBAN, "DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 01"),  # mod 97
    (PersonalKind.IBAN, "GB82WEST12345698765432", "GB82WEST1234569876543"),  # GB's length
    (PersonalKind.NATIONAL_ID, "078-05-1120", "666-05-1120"),  # US SSN: 666 is never issued
    (PersonalKind.NATIONAL_ID, "AB 12 34 56 C", "QQ 12 34 56 C"),  # UK NINO: no Q prefix
    (PersonalKind.NATIONAL_ID, "12345678Z", "12345678A"),  # Spanish DNI check letter
    (PersonalKind.NATIONAL_ID, "X1234567L", "X1234567M"),  # Spanish NIE check letter
    (PersonalKind.NATIONAL_ID, "RSSMRA85T10A562S", "RSSMRA85T10A562T"),  # codice fiscale
    (PersonalKind.IP_ADDRESS, "192.168.1.12", "192.168.1.312"),
    (PersonalKind.IP_ADDRESS, "2001:db8::8a2e:370:7334", "2001:db8::8a2e::7334"),
    (PersonalKind.EMAIL, "ana.lopez@example.org", "ana.lopez@example"),
    (PersonalKind.PHONE, "+44 20 7946 0958", "+44 20"),
    (PersonalKind.PHONE, "(415) 555-0123", "(415) 555-012"),
    (PersonalKind.STREET_ADDRESS, "221B Baker Street", "221B Baker Stuff"),
    (PersonalKind.STREET_ADDRESS, "Musterstraße 12", "Musterstraße"),
    (PersonalKind.NAME, "Mrs. Maria Garcia", "mrs maria garcia"),
]


def kinds_in(text: str) -> set[PersonalKind]:
    return {found.kind for found in find_personal(text)}


def column(values: list[object], name: str = "value") -> pd.Series:
    return pd.Series(values, name=name)


@pytest.mark.parametrize(("kind", "valid", "broken"), CHECKED)
def test_each_kind_is_found_in_text_when_its_check_passes(kind, valid, broken):
    assert kind in kinds_in(f"see {valid} today")


@pytest.mark.parametrize(("kind", "valid", "broken"), CHECKED)
def test_each_kind_is_not_found_when_its_check_fails(kind, valid, broken):
    assert kind not in kinds_in(f"see {broken} today")


def test_an_iban_failing_its_check_is_not_taken_for_a_phone_or_a_card():
    assert kinds_in("pay to DE42 3915 0008 0636 0837 72 today") == set()


def test_nine_bare_digits_in_text_are_not_a_phone():
    assert kinds_in("order 038836859 shipped") == set()


def test_sixteen_digit_numbers_failing_luhn_are_not_a_card_column():
    numbers = [4_000_000_000_000_000 + 10 * i + 1 + (i % 9) for i in range(200)]
    failing = [n for n in numbers if n % 10 != _luhn_digit(n // 10)]
    assert scan_column("account", ColumnKind.NUMERIC, column(failing)) is None


def _luhn_digit(body: int) -> int:
    digits = [int(d) for d in str(body)][::-1]
    total = sum(d * 2 - 9 if i % 2 == 0 and d * 2 > 9 else d * 2 if i % 2 == 0 else d
                for i, d in enumerate(digits))
    return (10 - total % 10) % 10


def test_a_column_of_valid_card_numbers_is_flagged_with_full_confidence():
    cards = [n * 10 + _luhn_digit(n) for n in range(411111111111111, 411111111111311)]
    found = scan_column("card", ColumnKind.NUMERIC, column(cards))
    assert found is not None
    assert (found.main.kind, found.main.confidence, found.main.in_text) == (
        PersonalKind.CARD, 1.0, False)


def test_a_columns_confidence_is_the_share_of_its_values_that_match():
    values = ["ana@example.org", "bo@example.com", "cy@example.net", "unknown"] * 10
    found = scan_column("contact", ColumnKind.CATEGORICAL, column(values))
    assert found is not None and found.main.confidence == pytest.approx(0.75)


def test_an_email_inside_free_text_flags_the_column_as_text():
    notes = ["please write to ana@example.org about it", "all good, thanks",
             "reach me: bo.smith@mail.example.com", "nothing to add", "cy@example.net asap"] * 4
    found = scan_column("comment", ColumnKind.TEXT, column(notes))
    assert found is not None
    assert (found.main.kind, found.in_text) == (PersonalKind.EMAIL, True)


def test_a_column_of_full_names_is_flagged_as_names():
    names = ["Maria Garcia", "John Smith", "Yuki Tanaka", "Olga Petrova", "Ahmed Khan",
             "Claire Dubois"] * 5
    found = scan_column("customer", ColumnKind.CATEGORICAL, column(names))
    assert found is not None and found.main.kind is PersonalKind.NAME


def test_bare_ten_digit_numbers_are_phones_only_under_a_phone_header():
    numbers = [f"41555501{i:02d}" for i in range(40)]
    assert scan_column("reference", ColumnKind.ID, column(numbers)) is None
    assert scan_column("mobile", ColumnKind.ID, column(numbers)).main.kind is PersonalKind.PHONE


@pytest.mark.parametrize(("kind", "value"), [(k, v) for k, v, _ in CHECKED])
def test_a_masked_example_never_holds_the_value(kind, value):
    assert value not in mask_value(kind, value)


def test_a_profile_never_holds_the_personal_data_it_found():
    emails = [f"person{i}@example.org" for i in range(30)]
    cards = ["4242 4242 4242 4242", "5555 5555 5555 4444", "3782 822463 10005"] * 10
    frame = pd.DataFrame({"email": emails, "card": cards, "n": range(30)})
    shown = json.dumps(profile(Dataset(frame, infer_schema(frame), "t.csv")).to_dict())
    assert not [value for value in [*emails, *cards] if value in shown]


def test_masking_text_replaces_personal_values_and_keeps_the_other_words():
    assert mask_text("write to ana@example.org or call +44 20 7946 0958 today") == \
        "write to <EMAIL> or call <PHONE> today"


def test_a_long_column_is_scanned_from_a_sample():
    values = column(["ana@example.org"] * (SAMPLE_VALUES * 20))
    assert scan_column("contact", ColumnKind.CATEGORICAL, values).main.confidence == 1.0


@pytest.mark.parametrize("name", ["adult.csv", "concrete.csv", "credit_g.csv", "wine.csv"])
def test_the_shipped_tables_have_no_column_flagged(name):
    assert profile(read_table(EXAMPLES / name)).privacy == {}


def test_the_sms_examples_text_is_flagged_for_its_phone_numbers_and_its_label_is_not():
    found = profile(read_table(EXAMPLES / "sms_spam.csv")).privacy
    assert list(found) == ["text"]
    assert found["text"].main.kind is PersonalKind.PHONE and found["text"].in_text


def test_flagged_columns_read_a_profile_or_its_json_alike():
    frame = pd.DataFrame({"email": [f"p{i}@example.org" for i in range(20)], "n": range(20)})
    report = profile(Dataset(frame, infer_schema(frame), "t.csv"))
    assert flagged_columns(report) == flagged_columns(json.loads(json.dumps(report.to_dict())))
    assert flagged_columns(report) == {"email": "email"}
