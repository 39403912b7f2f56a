"""The examples cut down for tests whose assertion does not depend on the whole table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tests._paths import EXAMPLES

# a model of one feature has no explanations to compute (permutations of the test rows: most
# of a small training's time), while the search, the evaluation, the importance, the report
# and the registration run as on any table
ONE_FEATURE = {"credit_g.csv": ("checking_status", "class"),
               "wine.csv": ("flavanoids", "cultivar"),
               "concrete.csv": ("cement", "compressive_strength")}


def one_feature_example(file: str, folder: Path, *, rows: int | None = None) -> Path:
    """``examples/<file>`` cut to its target and one feature (ONE_FEATURE), and to a seeded
    sample of ``rows`` rows when given, written to ``folder/<file>``."""
    table = pd.read_csv(EXAMPLES / file, usecols=list(ONE_FEATURE[file]))
    if rows is not None:
        table = table.sample(n=min(rows, len(table)), random_state=0)
    table.to_csv(folder / file, index=False)
    return folder / file
