"""A suite table split between simulated holders, as ``trainforge federated simulate`` splits
it, for the benches that run a federation's rounds in one process (``bench_trees.py``,
``tables_in_process.py``).

The table is read, its task inferred and its encoding declared as the simulation does; the
Dirichlet partition is the simulation's, seeded; each holder's table is written as a simulated
holder's is. With ``validation=True`` each holder's table is its *training* rows only (as its
client splits them), so the client's own split holds out a validation share of them: settings
chosen on those rows never see the held-out rows the figures are reported on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from bench_networks import TABLES, bench_table

from trainforge.data.declared_schema import DeclaredSchema
from trainforge.data.read import read_table
from trainforge.federated.holder_split import holder_split
from trainforge.federated.holder_tables import write_holder_table
from trainforge.federated.partition import Holder, parse_scheme, partition
from trainforge.federated.plan import FederationPlan
from trainforge.federated.planning import declare_table


@dataclass(frozen=True)
class Federation:
    schema: DeclaredSchema
    holders: list[Holder]  # the partition (rows of the whole table)
    tables: list[Path]  # each holder's table as its client reads it


def declared(name: str, out: Path) -> tuple[pd.DataFrame, DeclaredSchema, str]:
    """The suite table ``name``: its cleaned rows, declared schema and source."""
    dataset = read_table(bench_table(name, out))
    declared = declare_table(dataset, TABLES[name], model="mlp")
    return declared.frame, declared.schema, dataset.source


def federation(*, plan: FederationPlan, frame: pd.DataFrame, source: str,
               alpha: float, clients: int, scratch: Path, validation: bool) -> Federation:
    """``frame`` split between ``clients`` holders at Dirichlet ``alpha`` (seed 0), each
    holder's table written under ``scratch``; with ``validation`` only its training rows."""
    split = partition(frame, plan.schema.task, n_clients=clients,
                      scheme=parse_scheme(f"dirichlet:{alpha:g}"), seed=0, source=source)
    tables = []
    for holder in split:
        table = write_holder_table(frame.iloc[holder.rows], scratch / holder.name,
                                   image_column=None)
        if validation:
            training = holder_split(plan, table)[0]
            table = write_holder_table(training, scratch / "validation" / holder.name,
                                       image_column=None)
        tables.append(table)
    return Federation(schema=plan.schema, holders=split, tables=tables)


def pooled_training_rows(plan: FederationPlan, tables: list[Path]) -> pd.DataFrame:
    """Every holder's training rows, split again as its client split them."""
    return pd.concat([holder_split(plan, table)[0] for table in tables])
