"""Request validation from a model's input signature, as pydantic models built per served model.

One pydantic model per served model checks each record in pydantic-core (fast, in Rust) and is
the request schema that ``/docs`` shows, so the documented schema and the check can never
disagree. What each feature's value may be is ``values``'s.

What a record must hold: every feature of the signature. A field left out is an error (a typo in
a field name would otherwise pass silently as a missing value); an explicit ``null`` is a missing
value, which the model handles as it did in training. Fields the model does not use are ignored
and named back to the caller.

A request is hostile until checked: its size is bounded before it is parsed (``budget``), its
records are counted before any is validated, records are validated a chunk at a time (so no
single call holds the interpreter for long), and an error names the field, never its value:
only the first ``MAX_ERRORS_SHOWN`` are listed, with a count of the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from trainforge.algorithms.model import FeatureSpec
from trainforge.config import MAX_RECORDS
from trainforge.errors import TooManyRecords
from trainforge.serving.values import VALUE_TYPES, Text

MAX_ERRORS_SHOWN = 20
CHUNK_RECORDS = 1_000  # records per validation call: ~10 ms each on a busy core
# a light body is checked in one call (~10 µs for one record) and answered on the event loop:
# at most LIGHT_FIELDS fields to check (records × features), whose errors cost ~1 µs each
LIGHT_BODY_BYTES = 64 * 1024
LIGHT_FIELDS = 4_096

Errors = list[dict[str, Any]]
Loc = tuple[str | int, ...]


class RecordsInvalid(Exception):
    """A request failed validation: ``errors`` (FastAPI's loc, msg, type; never the input) are
    the first ``MAX_ERRORS_SHOWN``, and ``n_more`` counts those not listed."""

    def __init__(self, errors: Errors, *, n_more: int = 0) -> None:
        super().__init__(f"{len(errors) + n_more} validation error(s)")
        self.errors, self.n_more = errors, n_more


def _model_name(served_name: str, suffix: str) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in served_name).split()
    return "".join(w[:1].upper() + w[1:] for w in words) + suffix


def _attribute(position: int) -> str:
    # column names can be anything ("_id", "model_config", "hours-per-week"): pydantic sees
    # safe attribute names, and requests, errors and docs use the columns' names as aliases
    return f"feature_{position}"


def record_model(served_name: str, features: Sequence[FeatureSpec]) -> type[BaseModel]:
    """The pydantic model of one input record of ``features``: required, nullable fields."""
    fields: dict[str, Any] = {}
    for position, spec in enumerate(features):
        value_type = VALUE_TYPES.get(spec.dtype, Text)
        fields[_attribute(position)] = (value_type | None, Field(..., alias=spec.name))
    config = ConfigDict(extra="allow", populate_by_name=False,
                        title=_model_name(served_name, "Record"))
    return create_model(_model_name(served_name, "Record"), __config__=config, **fields)


def request_model(served_name: str, record: type[BaseModel]) -> type[BaseModel]:
    """The body of ``POST /v1/models/{name}/predict``: ``{"records": [record, ...]}``."""
    return create_model(_model_name(served_name, "PredictRequest"),
                        records=(list[record], ...))  # type: ignore[valid-type]


def _values(body: bytes) -> int:
    # an upper bound on the JSON values in ``body`` (commas, opening brackets), in C-speed
    # scans; commas inside strings only inflate it
    return body.count(b",") + body.count(b"{") + body.count(b"[")


def is_light(body: bytes, *, n_features: int) -> bool:
    """Whether ``body`` is cheap to check whatever it holds: small, and its objects and arrays
    (an upper bound on its records) times the features at most ``LIGHT_FIELDS``."""
    containers = body.count(b"{") + body.count(b"[")
    return len(body) <= LIGHT_BODY_BYTES and containers * max(n_features, 1) <= LIGHT_FIELDS


def budget(body: bytes, *, max_records: int, n_features: int) -> None:
    """Refuse a body holding more values than ``max_records`` records could, before it is
    parsed: a parse costs memory per value (~60 bytes for an empty ``{}``), whatever the bytes.
    Commas in strings count too, so a record may hold four times its features' worth."""
    if _values(body) > max_records * (4 * n_features + 16) + 16:
        raise TooManyRecords(max_records, by_values=True)


def parse_json(body: bytes) -> Any:
    """The body as Python values; ``NaN``, ``Infinity`` and big integers parse, for validation to
    refuse them with their field named."""
    try:
        return pydantic_core.from_json(body, allow_inf_nan=True)
    except ValueError as error:  # the parser's message gives a position, never the input
        raise RecordsInvalid([{"loc": ["body"], "msg": f"Invalid JSON: {error}",
                               "type": "json_invalid"}]) from None


def records_of(payload: Any) -> list[Any]:
    """The ``records`` list of a predict body, or RecordsInvalid saying what is wrong."""
    if not isinstance(payload, dict):
        raise RecordsInvalid([{"loc": ["body"], "type": "model_type",
                               "msg": 'Input should be an object: {"records": [{...}, ...]}'}])
    if "records" not in payload:
        raise RecordsInvalid([{"loc": ["body", "records"], "msg": "Field required",
                               "type": "missing"}])
    records = payload["records"]
    if not isinstance(records, list):
        raise RecordsInvalid([{"loc": ["body", "records"], "msg": "Input should be a valid list",
                               "type": "list_type"}])
    return records


def _shown(error: ValidationError, loc: Loc, offset: int) -> Errors:
    return [{"loc": [*loc, offset + int(e["loc"][0]), *e["loc"][1:]], "msg": e["msg"],
             "type": e["type"]}
            for e in error.errors(include_url=False, include_input=False, include_context=False)]


@dataclass(frozen=True)
class Columns:
    """Validated records as one list per feature (signature order), and the ignored fields."""

    values: dict[str, list[Any]]
    n_rows: int
    ignored_fields: list[str]


class Signature:
    """Checks request records against a model's features and turns them into columns."""

    def __init__(self, served_name: str, features: Sequence[FeatureSpec]) -> None:
        self.features = list(features)
        self.names = [spec.name for spec in self.features]
        self._attributes = [_attribute(position) for position in range(len(self.features))]
        self.record = record_model(served_name, self.features)
        self.request = request_model(served_name, self.record)
        self._records = TypeAdapter(list[self.record])  # type: ignore[name-defined]

    def parse_request(self, body: bytes, *, max_records: int = MAX_RECORDS) -> Columns:
        """Validate a predict body (JSON bytes); raises RecordsInvalid with body-level locs,
        TooManyRecords when it holds more than ``max_records``."""
        if is_light(body, n_features=len(self.features)):
            try:
                request = self.request.model_validate_json(body)
            except ValidationError:
                pass  # the careful path below lists the errors, capped and without inputs
            else:
                records: list[BaseModel] = request.records  # type: ignore[attr-defined]
                if len(records) <= max_records:
                    return self._columns(records)
        budget(body, max_records=max_records, n_features=len(self.features))
        return self.parse_records(records_of(parse_json(body)), loc=("body", "records"),
                                  max_records=max_records)

    def parse_records(self, records: Sequence[Mapping[str, Any]], *, loc: Loc = (),
                      max_records: int = MAX_RECORDS) -> Columns:
        """Validate decoded records, counted first; error locs start with ``loc``."""
        if len(records) > max_records:
            raise TooManyRecords(max_records, n_records=len(records))
        parsed: list[BaseModel] = []
        shown: Errors = []
        n_errors = 0
        for start in range(0, len(records), CHUNK_RECORDS):
            try:
                parsed += self._records.validate_python(records[start:start + CHUNK_RECORDS])
            except ValidationError as error:
                n_errors += error.error_count()  # counted in Rust: no Python dict per error
                if len(shown) < MAX_ERRORS_SHOWN:
                    shown += self._first_errors(records, start=start, loc=loc,
                                                wanted=MAX_ERRORS_SHOWN - len(shown))
        if n_errors:
            raise RecordsInvalid(shown, n_more=n_errors - len(shown))
        return self._columns(parsed)

    def _first_errors(self, records: Sequence[Mapping[str, Any]], *, start: int, loc: Loc,
                      wanted: int) -> Errors:
        """The first ``wanted`` errors from ``records[start]`` on, a record at a time."""
        found: Errors = []
        for index in range(start, min(start + CHUNK_RECORDS, len(records))):
            try:
                self._records.validate_python(records[index:index + 1])
            except ValidationError as error:
                found += _shown(error, loc, index)
                if len(found) >= wanted:
                    break
        return found[:wanted]

    def _columns(self, records: list[BaseModel]) -> Columns:
        dicts = [r.__dict__ for r in records]
        values = {name: [d[attribute] for d in dicts]
                  for name, attribute in zip(self.names, self._attributes, strict=True)}
        ignored: dict[str, None] = {}
        for record in records:
            if record.__pydantic_extra__:
                ignored.update(dict.fromkeys(record.__pydantic_extra__))
        return Columns(values=values, n_rows=len(dicts), ignored_fields=list(ignored))
