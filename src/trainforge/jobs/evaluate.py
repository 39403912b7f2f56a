"""The evaluate job: a registered model scored on a labelled table it has not seen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trainforge.errors import ConfigError

if TYPE_CHECKING:
    from trainforge.evaluation.evaluate import Evaluation
    from trainforge.workspace import Workspace


def run_evaluation(ref: str, data: str | Path, *, workspace: Workspace) -> Evaluation:
    """Score the model ``ref`` (NAME, NAME:VERSION or NAME@ALIAS) on ``data``, which must hold
    the model's target column.

    Raises:
        ConfigError: the model learned without a target (clustering, anomalies, a policy:
            ``jobs.rl.replay`` judges that one): there is nothing to score against.
    """
    from trainforge.data.read import read_table
    from trainforge.data.targets import clean_target
    from trainforge.evaluation.evaluate import evaluate

    loaded = workspace.registry.load(ref)
    if not loaded.model.task.kind.is_supervised:
        raise ConfigError(f"{loaded.ref} is a {loaded.model.task.kind.value} model: it has no "
                          "target to score against; its report (trainforge models show "
                          f"{loaded.ref} --json gives the path) describes what it found")
    dataset = read_table(data)
    model = loaded.tabular
    frame, _ = clean_target(dataset, model.task)
    return evaluate(model, frame)
