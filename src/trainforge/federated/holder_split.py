"""A holder's own table as every federation's client takes it: read, checked against the
plan, its rows without a target left out, and split into training and held-out rows with the
plan's seed, so the coordinator's evaluation can make the very same split again.

Apart from ``holder_rows`` (the networks' side, which imports PyTorch) because a tree
holder's client (``tree_rows``) needs this and none of PyTorch: Flower starts a process per
message, and each would otherwise pay for importing it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trainforge.data.read import read_table
from trainforge.data.splits import train_test_split
from trainforge.errors import FederationSchemaMismatch
from trainforge.federated.plan import FederationPlan


def holder_split(plan: FederationPlan, data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The holder's table read and checked against the plan (FederationSchemaMismatch naming
    each difference), its rows without a target left out, split into (training, held-out)
    as every model's holder splits them."""
    schema = plan.schema
    frame = read_table(data).frame
    schema.check(frame, source=str(data))
    image_column = plan.network.get("column") if plan.model == "cnn" else None
    if image_column is not None and image_column not in frame:
        raise FederationSchemaMismatch(str(data), [
            f"it lacks the image column {image_column!r} the federation's CNN reads"])
    frame = frame.loc[frame[schema.task.target].notna()]
    train, held_out = train_test_split(frame, schema.task, test_size=plan.test_size,
                                       seed=plan.seed)
    return train, held_out
