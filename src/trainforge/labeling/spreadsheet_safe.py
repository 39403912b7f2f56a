"""CSV cells that a spreadsheet opens as text, never as a formula (CSV injection, OWASP):
a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'``, which spreadsheets show as nothing and read as "this is text".

    >>> safe_text("=HYPERLINK(\\"http://x\\")"), safe_text("-3 dB"), safe_text("spam")
    ('\\'=HYPERLINK("http://x")', "'-3 dB", 'spam')
    >>> unsafe_text("'=1+1")
    '=1+1'

Only text is changed: a number column keeps its numbers (-3 stays a number). Reading such a
file back (a CSV import of labels), ``unsafe_text`` takes the quote off again.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unsafe_text(value: str) -> str:
    """``value`` as it was before ``safe_text``."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def safe_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are safe to open."""
    safe = frame.rename(columns=lambda name: safe_text(str(name)))
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):  # numbers and booleans stay
            safe[column] = safe[column].map(safe_text)
    return safe
