"""The real tables the data tests read (read-only)."""

from tests._paths import SHARED

BENCH = SHARED / "bench" / "data"
DATA = SHARED / "data"
