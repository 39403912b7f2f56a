"""The metadata store: tables, migrations, and small functions to record datasets and runs."""

from trainforge.store.datasets import record_dataset
from trainforge.store.runs import finish_run, get_run, list_runs, log_metric, start_run

__all__ = ["finish_run", "get_run", "list_runs", "log_metric", "record_dataset", "start_run"]
