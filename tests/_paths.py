"""Where the data the tests use lives: all of it ships with the repository, but for SHARED."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TABLES = ROOT / "tests" / "data" / "tables"  # real tables examples/ lacks; see its README
SHARED = ROOT.parent / "shared"  # beside a checkout, never in a clone: tests that need it skip
