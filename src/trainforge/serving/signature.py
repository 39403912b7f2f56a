"""Request validation from a model's input signature, as pydantic models built per served model.

One pydantic model per served model checks a request in pydantic-core (fast, in Rust) and is the
request schema that ``/docs`` shows, so the documented schema and the check can never disagree.

What a record must hold: every feature of the signature. A field left out is an error (a typo in
a field name would otherwise pass silently as a missing value); an explicit ``null`` is a missing
value, which the model handles as it did in training. Fields the model does not use are ignored
and named back to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from trainforge.algorithms.model import FeatureSpec

# what a request sends for each FeatureSpec.dtype; categories may arrive as numbers (codes).
# A boolean keeps its spelling ("yes", "1", true): the model learned which spelling is true.
_PYTHON_TYPES: dict[str, Any] = {
    "number": float,
    "string": str,
    "boolean": str | bool,
    "datetime": datetime,
    "image": str,  # the image file's bytes in base64 (or a multipart upload)
}

Errors = list[dict[str, Any]]


class RecordsInvalid(Exception):
    """A request failed validation; ``errors`` has FastAPI's shape (loc, msg, type, input)."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


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
        python_type = _PYTHON_TYPES.get(spec.dtype, str)
        fields[_attribute(position)] = (python_type | None, Field(..., alias=spec.name))
    config = ConfigDict(extra="allow", coerce_numbers_to_str=True, populate_by_name=False,
                        title=_model_name(served_name, "Record"))
    return create_model(_model_name(served_name, "Record"), __config__=config, **fields)


def request_model(served_name: str, record: type[BaseModel]) -> type[BaseModel]:
    """The body of ``POST /v1/models/{name}/predict``: ``{"records": [record, ...]}``."""
    return create_model(_model_name(served_name, "PredictRequest"),
                        records=(list[record], ...))  # type: ignore[valid-type]


def _fastapi_errors(error: ValidationError, prefix: tuple[str | int, ...]) -> Errors:
    return [{"loc": [*prefix, *e["loc"]], "msg": e["msg"], "type": e["type"],
             "input": e.get("input")} for e in error.errors(include_url=False)]


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

    def parse_request(self, body: bytes) -> Columns:
        """Validate a predict body (JSON bytes); raises RecordsInvalid with body-level locs."""
        try:
            parsed = self.request.model_validate_json(body)
        except ValidationError as error:
            raise RecordsInvalid(_fastapi_errors(error, ("body",))) from None
        return self._columns(parsed.records)  # type: ignore[attr-defined]

    def parse_records(self, records: Sequence[Mapping[str, Any]],
                      loc: tuple[str | int, ...] = ()) -> Columns:
        """Validate already-decoded records (the MLflow formats); locs start with ``loc``."""
        try:
            parsed = self.request.model_validate({"records": records})
        except ValidationError as error:
            raise RecordsInvalid(
                [{**e, "loc": [*loc, *e["loc"][1:]]} for e in _fastapi_errors(error, ())]
            ) from None
        return self._columns(parsed.records)  # type: ignore[attr-defined]

    def _columns(self, records: list[BaseModel]) -> Columns:
        dicts = [r.__dict__ for r in records]
        values = {name: [d[attribute] for d in dicts]
                  for name, attribute in zip(self.names, self._attributes, strict=True)}
        ignored: dict[str, None] = {}
        for record in records:
            if record.__pydantic_extra__:
                ignored.update(dict.fromkeys(record.__pydantic_extra__))
        return Columns(values=values, n_rows=len(dicts), ignored_fields=list(ignored))
