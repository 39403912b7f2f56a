"""What training does with columns holding personal data (``--pii``), and the same at predict.

- ``warn`` (the default): train as given; the run, the manifest and the report say which
  columns hold what.
- ``drop``: flagged columns are removed from the features.
- ``hash``: each value becomes a keyed hash (HMAC-SHA256 with a key made for the run), so
  equal values stay equal and the model can still use them as categories.
- ``mask``: personal values become their kind's placeholder (``<EMAIL>``); free text keeps its
  other words.

The target is never changed, and an id column is never a feature whatever the policy. A model
trained on hashed or masked columns must see requests the same way, so the transform
(``InputPrivacy``) travels in the model package and the model applies it to every input before
anything else: the SDK, batch prediction and serving all predict the same for the same raw row.
The hash key travels with it (a file of the package): whoever holds the package can test a
guessed value against the hashes in it, so ``hash`` pseudonymises; ``drop`` is what removes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import pandas as pd

from trainforge.config import PiiPolicy
from trainforge.data.dataset import ColumnKind, Dataset
from trainforge.data.personal_values import mask_text
from trainforge.data.privacy import ColumnPrivacy

PII_POLICIES: tuple[str, ...] = get_args(PiiPolicy)
HASH_KEY_FILE = "pii-hash.key"  # in a model package: the key its hashed inputs were made with
HASH_KEY_BYTES = 32
HASH_CHARS = 16  # hex digits kept: 64 bits, no collision among a table's distinct values


def new_hash_key() -> bytes:
    return secrets.token_bytes(HASH_KEY_BYTES)


def _canonical(value: Any) -> str:
    # a phone read as 4155550123 in a file and sent as 4155550123.0 is the same value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def keyed_hash(key: bytes, value: Any) -> str:
    """The value's HMAC-SHA256 under ``key``, shortened: equal values, equal hashes."""
    digest = hmac.new(key, _canonical(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return "h_" + digest[:HASH_CHARS]


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or value != value  # noqa: PLR0124


@dataclass(frozen=True)
class InputPrivacy:
    """The transform a model's inputs go through, at training and at every prediction."""

    hashed: tuple[str, ...] = ()
    masked: tuple[str, ...] = ()
    key: bytes = field(default=b"", repr=False)  # never printed

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with its hashed and masked columns transformed (missing values
        stay missing; columns the frame lacks are left to the model's own checks)."""
        present = [c for c in (*self.hashed, *self.masked) if c in frame.columns]
        if not present:
            return frame
        out = frame.copy()
        for column in present:
            hashing = column in self.hashed
            out[column] = pd.Series(
                [None if _is_missing(v) else keyed_hash(self.key, v) if hashing else
                 mask_text(str(v)) for v in frame[column].tolist()],
                index=frame.index, dtype=object)
        return out

    def apply_columns(self, columns: Mapping[str, Sequence[Any]]) -> dict[str, Sequence[Any]]:
        """``apply`` for columns given as lists (a served request's): what the prediction log
        records of a model trained with ``--pii hash|mask`` is what the model saw, never the
        personal values themselves."""
        out = dict(columns)
        for column in (*self.hashed, *self.masked):
            if column in out:
                hashing = column in self.hashed
                out[column] = [None if _is_missing(v) else keyed_hash(self.key, v) if hashing
                               else mask_text(str(v)) for v in out[column]]
        return out

    def to_manifest(self) -> dict[str, list[str]]:
        """What a package records (the key is a file of its own, never in the manifest)."""
        return {"hashed": list(self.hashed), "masked": list(self.masked)}

    @classmethod
    def from_manifest(cls, raw: Mapping[str, Any], *, key: bytes) -> InputPrivacy:
        return cls(hashed=tuple(map(str, raw.get("hashed", ()))),
                   masked=tuple(map(str, raw.get("masked", ()))), key=key)


@dataclass(frozen=True)
class PolicyOutcome:
    """The table to train on, the transform its model keeps, and what was done, per column."""

    dataset: Dataset
    inputs: InputPrivacy | None
    actions: dict[str, str]  # column -> a sentence for the run, the manifest and the report


def apply_policy(dataset: Dataset, flagged: Mapping[str, ColumnPrivacy], *, policy: PiiPolicy,
                 target: str, key: bytes = b"") -> PolicyOutcome:
    """Apply ``policy`` to the flagged columns of ``dataset`` (``key``: for ``hash``)."""
    frame, schema = dataset.frame, dict(dataset.schema)
    actions: dict[str, str] = {}
    hashed: list[str] = []
    masked: list[str] = []
    replaced: dict[str, str] = {}  # whole cells -> their kind's placeholder
    for column, found in flagged.items():
        which = f"column {column!r}, which {found.holdings()}"
        if column == target:
            actions[column] = f"kept the target {which}: --pii never changes the target"
        elif schema.get(column) is ColumnKind.ID:
            actions[column] = f"left out {which}: an id is never a feature"
        elif policy == "warn":
            actions[column] = f"trained on {which}"
        elif policy == "drop":
            actions[column] = f"dropped {which}"
            schema.pop(column, None)
        elif policy == "hash":
            actions[column] = f"hashed (keyed HMAC-SHA256) {which}"
            hashed.append(column)
            schema[column] = ColumnKind.CATEGORICAL  # hashes are categories, whatever it was
        elif found.in_text:
            actions[column] = f"masked the personal values in {which}"
            masked.append(column)
        else:  # a column of personal values becomes one placeholder: it teaches nothing
            placeholder = found.main.kind.placeholder
            actions[column] = (f"masked {which}: every value became {placeholder}, so it is "
                               "not used as a feature")
            replaced[column] = placeholder
    if not (hashed or masked or replaced or policy == "drop"):
        return PolicyOutcome(dataset, None, actions)
    inputs = InputPrivacy(hashed=tuple(hashed), masked=tuple(masked), key=key)
    changed = inputs.apply(frame[[c for c in frame.columns if c in schema]])
    for column, placeholder in replaced.items():
        changed[column] = frame[column].astype(object).where(frame[column].isna(), placeholder)
    changed.attrs = dict(frame.attrs)  # what read_table noted (integer columns) still holds
    return PolicyOutcome(Dataset(changed, schema, dataset.source),
                         inputs if hashed or masked else None, actions)
