"""Which columns of a table hold personal data, of what kind, and how sure that is.

    >>> import pandas as pd
    >>> from trainforge.data.schema import infer_schema
    >>> frame = pd.DataFrame({"contact": ["ana@example.org", "bo@mail.example.com", None],
    ...                       "age": [31, 45, 27]})
    >>> found = scan_privacy(Dataset(frame, infer_schema(frame), "people.csv"))
    >>> print(found["contact"].describe())
    column 'contact' holds e-mail addresses (confidence 1.00, e.g. a***@e***.org)

A column is flagged for a kind when most of its (sampled) values are that kind as a whole
(``FLAG_CONFIDENCE``), or when its text holds values of that kind in at least
``MIN_TEXT_HITS`` cells (an e-mail inside a comment). The confidence is the share of non-missing
values that match, each match weighed by how well its kind can be checked (a checksum, a shape,
a guess: ``personal_values.WEIGHTS``). Examples are always masked: nothing this module returns
holds the personal data it found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.personal_values import (
    WEIGHTS,
    Found,
    PersonalKind,
    find_personal,
    looks_like_a_name,
    mask_text,
    mask_value,
    ssn_valid,
)

if TYPE_CHECKING:
    from trainforge.data.profile import Profile

SAMPLE_VALUES = 2_000  # per column: enough for a share to ±2 %, and a big table stays fast
FLAG_CONFIDENCE = 0.5  # whole values: the column is mostly that kind
MIX_SHARE = 0.1  # …or a tenth of it, in a column mostly personal data of several kinds
MIN_TEXT_HITS = 3  # cells holding a kind inside their text; fewer is more likely chance
SCANNED_KINDS = (ColumnKind.CATEGORICAL, ColumnKind.TEXT, ColumnKind.ID, ColumnKind.NUMERIC)

# what a header says a column holds: a bare number is a phone or an SSN only when it says so,
# and a capitalised pair is a name on a known surname alone
_HINTS = {
    PersonalKind.NAME: re.compile(
        r"(?:^|[^a-z])(?:(?:full|first|last|given|family|sur|middle|maiden|user|nick)[ _-]?)?"
        r"names?(?:$|[^a-z])|^(?:customer|client|contact|person|patient|employee|author|owner"
        r"|passenger|holder)$"),
    PersonalKind.PHONE: re.compile(r"phone|tel(?:ephone)?(?:$|[^a-z])|mobile|cell|fax"),
    PersonalKind.NATIONAL_ID: re.compile(r"ssn|social[ _-]?security|national[ _-]?id|tax[ _-]?id"),
}


@dataclass(frozen=True)
class PersonalData:
    """One kind of personal data found in one column."""

    kind: PersonalKind
    confidence: float  # share of non-missing values that match, weighed by their checks
    example: str  # masked: the shape of a value found, never the value
    in_text: bool  # found inside free text, not as whole cells

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "confidence": round(self.confidence, 4),
                "example": self.example, "in_text": self.in_text}


@dataclass(frozen=True)
class ColumnPrivacy:
    """What personal data one column holds: every kind found, surest first."""

    column: str
    found: tuple[PersonalData, ...]

    @property
    def main(self) -> PersonalData:
        return self.found[0]

    @property
    def in_text(self) -> bool:
        """Every kind is inside free text: masking keeps the column's other words."""
        return all(f.in_text for f in self.found)

    def holdings(self) -> str:
        """What it holds, as a sentence's predicate; its examples are masked."""
        parts = []
        for f in self.found:
            if f.in_text:
                parts.append(f"has {f.kind.described} inside its text (in {f.confidence:.1%} "
                             f"of values, e.g. {f.example})")
            else:
                parts.append(f"holds {f.kind.described} (confidence {f.confidence:.2f}, e.g. "
                             f"{f.example})")
        return "; it also ".join(parts)

    def describe(self) -> str:
        """One sentence for a warning, a report or a manifest."""
        return f"column {self.column!r} {self.holdings()}"

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": [f.to_dict() for f in self.found], "summary": self.describe()}


def header_hints(column: str) -> frozenset[PersonalKind]:
    """The kinds a column's name says it holds."""
    lowered = column.lower()
    return frozenset(kind for kind, pattern in _HINTS.items() if pattern.search(lowered))


def _sampled_text(column: pd.Series, kind: ColumnKind) -> pd.Series | None:
    """Up to ``SAMPLE_VALUES`` non-missing values as text; None for a column that cannot hold
    personal data (fractions, and numbers too short to be a phone or a card)."""
    values = column.dropna()
    if len(values) > SAMPLE_VALUES:
        values = values.sample(SAMPLE_VALUES, random_state=0)  # the same rows every time
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
            values.dtype):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers[(numbers % 1 == 0) & (numbers.abs() >= 10**7)]
        if len(whole) < FLAG_CONFIDENCE * len(values) or kind is not ColumnKind.NUMERIC and \
                kind is not ColumnKind.ID:
            return None
        return whole.astype("int64").astype("str")
    try:
        return values.astype("str")
    except (TypeError, ValueError):  # nested JSON cells
        return None


def whole_value_kind(value: str, *, hints: frozenset[PersonalKind] = frozenset(),
                     found: list[Found] | None = None) -> PersonalKind | None:
    """The kind ``value`` is as a whole cell, if any (``hints``: what its column's header
    says; ``found``: ``find_personal(value)``, when the caller has it already)."""
    found = find_personal(value) if found is None else found
    stripped = value.strip().strip(".,;")
    if len(found) == 1 and len(found[0].text) >= len(stripped) - 2:
        return PersonalKind(found[0].kind)
    digits = stripped.lstrip("+")
    if digits.isdigit():
        if PersonalKind.PHONE in hints and 8 <= len(digits) <= 15:
            return PersonalKind.PHONE
        if PersonalKind.NATIONAL_ID in hints and len(digits) == 9 and ssn_valid(digits):
            return PersonalKind.NATIONAL_ID
        return None
    if looks_like_a_name(stripped, name_column=PersonalKind.NAME in hints):
        return PersonalKind.NAME
    return None


def scan_column(name: str, kind: ColumnKind, column: pd.Series) -> ColumnPrivacy | None:
    """The personal data in one column, or None when none is found."""
    if kind not in SCANNED_KINDS:
        return None
    values = _sampled_text(column, kind)
    if values is None or values.empty:
        return None
    hints = header_hints(name)
    n_values = len(values)
    whole: dict[PersonalKind, float] = {}
    inside: dict[PersonalKind, int] = {}
    examples: dict[tuple[PersonalKind, bool], str] = {}
    for value, count in values.value_counts().items():  # each distinct value scanned once
        text = str(value)
        found = find_personal(text)
        matched = whole_value_kind(text, hints=hints, found=found)
        if matched is not None:
            whole[matched] = whole.get(matched, 0.0) + count * WEIGHTS[matched]
            examples.setdefault((matched, False), mask_value(matched, text))
        for f in found:
            if f.kind is not matched:
                inside[f.kind] = inside.get(f.kind, 0) + count
                examples.setdefault((f.kind, True), mask_value(f.kind, f.text))
    shares = {k: v / n_values for k, v in whole.items()}
    mostly_personal = sum(shares.values()) >= FLAG_CONFIDENCE
    kept = [PersonalData(k, share, examples[(k, False)], in_text=False)
            for k, share in shares.items()
            if share >= FLAG_CONFIDENCE or (mostly_personal and share >= MIX_SHARE)]
    if not mostly_personal:  # a column of personal values is not also free text
        kept += [PersonalData(k, n * WEIGHTS[k] / n_values, examples[(k, True)], in_text=True)
                 for k, n in inside.items() if n >= MIN_TEXT_HITS]
    if not kept:
        return None
    return ColumnPrivacy(name, tuple(sorted(kept, key=lambda f: -f.confidence)))


def scan_privacy(dataset: Dataset) -> dict[str, ColumnPrivacy]:
    """The flagged columns of ``dataset``, in table order."""
    flagged = {}
    for name in dataset.columns:
        found = scan_column(name, dataset.schema.get(name, ColumnKind.CATEGORICAL),
                            dataset.frame[name])
        if found is not None:
            flagged[name] = found
    return flagged


def masked_top_value(privacy: ColumnPrivacy, value: str) -> str:
    """A flagged column's frequent value as a profile may show it."""
    return mask_text(value) if privacy.in_text else mask_value(privacy.main.kind, value)


def flagged_columns(profile: Profile | Mapping[str, Any]) -> dict[str, str]:
    """Column → the main kind of personal data it holds ("email"), from a ``Profile`` or its
    ``to_dict()`` (a package's profile.json): what the prediction log hashes or leaves out."""
    if isinstance(profile, Mapping):
        return {str(c["name"]): str(c["privacy"]["kinds"][0]["kind"])
                for c in profile.get("columns", []) if c.get("privacy")}
    return {c.name: c.privacy.main.kind.value for c in profile.columns if c.privacy}
