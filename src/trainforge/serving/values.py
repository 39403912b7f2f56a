"""What a request may send as a feature's value: finite numbers, strings and booleans.

Each type is a pydantic-core schema, checked in Rust with no Python call per value. JSON lets a
client write ``NaN``, ``Infinity``, ``1e999`` or integers no float64 can hold; a model can only
be wrong on those, so they are refused with the field named (``null`` is the missing value). A
boolean is not a number: pydantic's lax mode would quietly read ``false`` as ``0.0``. (pydantic's
own datetime already refuses NaN, infinities and booleans.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import GetPydanticSchema
from pydantic_core import core_schema

# a number written as a string, as CSV cells and some JSON clients send it. ASCII digits only
# (Python's \d and float() also take other scripts' digits; JSON Schema's regex does not), and
# at most 15 digits before the point and a two-digit exponent: every string the pattern allows
# is then a finite float64, so what /docs documents is exactly what is accepted
NUMBER_TEXT = r"^ *[-+]?([0-9]{1,15}(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,2})? *$"
FLOAT64_MAX = 1.7976931348623157e308

# the bounds put float64's range into the documented schema; JSON's 1e999 arrives as inf.
# Exclusive: an integer just beyond float64's largest value rounds down to it, and must not
# pass a check made after rounding when the schema it breaks counts exactly
_finite_float = core_schema.float_schema(strict=True, allow_inf_nan=False, lt=FLOAT64_MAX,
                                         gt=-FLOAT64_MAX)
_number_text = core_schema.chain_schema([
    core_schema.str_schema(strict=True, pattern=NUMBER_TEXT),
    core_schema.float_schema(allow_inf_nan=False)])
# a category code sent as a number becomes its text ("3"), as the category was seen in training
_code = core_schema.chain_schema([
    core_schema.union_schema([core_schema.int_schema(strict=True), _finite_float]),
    core_schema.str_schema(coerce_numbers_to_str=True)])


Choice = core_schema.CoreSchema | tuple[core_schema.CoreSchema, str]


def _schema(choices: list[Choice], *, error: str, message: str) -> GetPydanticSchema:
    # one error per field that says what is allowed, instead of one per union member
    schema = core_schema.union_schema(choices, mode="left_to_right", custom_error_type=error,
                                      custom_error_message=message)
    return GetPydanticSchema(lambda _source, _handler: schema)


Number = Annotated[float, _schema(
    [_finite_float, _number_text], error="number_invalid", message=(
    "Input should be a finite number (not NaN, Infinity, a boolean, or beyond float64's range), "
    "or a string holding one with at most 15 digits before the point"))]
Text = Annotated[str, _schema(
    [core_schema.str_schema(strict=True), _code], error="string_invalid",
    message="Input should be a string, or a finite number (a category code)")]
Flag = Annotated[str | bool, _schema(
    [core_schema.str_schema(strict=True), core_schema.bool_schema(strict=True), _code],
    error="string_invalid", message=(
    "Input should be a string (as spelled in training, e.g. \"yes\"), a boolean, or a finite "
    "number"))]
# what a request sends for each FeatureSpec.dtype; an image is its file's bytes in base64 text
VALUE_TYPES: dict[str, Any] = {"number": Number, "string": Text, "boolean": Flag,
                               "datetime": datetime, "image": Text}
