"""What `trainforge train --dp-epsilon` adds to a training run: DP-SGD for every candidate
network (runtime.dp_sgd), a search restricted to the networks it can train, and the budget
spent in the manifest's lineage, which the report and the model card show.

What the guarantee covers, said wherever ε is shown: each trained network's weights are
(ε, δ)-differentially private with respect to the rows it was trained on. The search that
chose the registered network (its algorithm, settings, number of epochs) compared the trials'
scores on validation rows without privacy, and every trial spent its own ε on the same rows; so
ε is per trained model, not for the whole run. One trial (`--trials 1 --algorithm cnn`) keeps
that gap smallest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trainforge.algorithms import catalog
from trainforge.algorithms.model import TabularModel
from trainforge.config import TrainConfig
from trainforge.data.dataset import Schema
from trainforge.data.task import Task
from trainforge.json_value import JSONValue

SCOPE = ("ε is per trained network: its weights are (ε, δ)-differentially private with "
         "respect to the rows it was trained on. The search that chose it compared its trials "
         "on validation rows without privacy, and each trial spent its own ε on the same rows, "
         "so the run as a whole is not (ε, δ)-private; --trials 1 keeps that gap smallest.")


def privacy_settings(config: TrainConfig, *, task: Task, schema: Schema,
                     features: Sequence[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """DP-SGD's settings for every candidate network and the note that tells the user what
    they mean; (None, []) without --dp-epsilon. Refuses, before the data is split, an
    algorithm or a kind of data that no network trained by DP-SGD learns."""
    if config.dp_epsilon is None:
        return None, []
    modality = catalog.modality_of(schema[f] for f in features)
    pool = (catalog.for_task(task.kind, modality) if config.algorithm == "auto"
            else [catalog.get(config.algorithm)])
    private = catalog.trainable_privately(pool, algorithm=config.algorithm, kind=task.kind,
                                          modality=modality)
    settings = {"dp_epsilon": config.dp_epsilon, "dp_delta": config.dp_delta,
                "dp_max_grad_norm": config.dp_max_grad_norm}
    delta = (f"δ = {config.dp_delta:g}" if config.dp_delta is not None
             else "δ = 1e-5 or 0.1/n, whichever is smaller")
    note = (f"differential privacy (--dp-epsilon {config.dp_epsilon:g}, {delta}): DP-SGD, so "
            f"only networks it can train are candidates "
            f"({', '.join(a.name for a in private)}), and the model is one of them, never a "
            f"blend; {SCOPE}")
    return settings, [note]


def privacy_spent(model: TabularModel) -> dict[str, JSONValue] | None:
    """The budget and spend of the network in ``model`` (a private search's model holds one);
    None when no member trained with DP-SGD."""
    for member in model.members:
        spent = getattr(member.estimator, "privacy_", None)
        if isinstance(spent, dict):
            return {**spent, "algorithm": member.algorithm}
    return None


def privacy_lineage(registered: TabularModel, evaluated: TabularModel
                    ) -> dict[str, JSONValue] | None:
    """The manifest's ``differential_privacy``: the registered network's (ε, δ), clipping
    bound, noise, sample rate and epochs, what the guarantee covers, and the evaluated model's
    ε when the registered one is a refit (trained again, with its own budget)."""
    spent = privacy_spent(registered)
    if spent is None:
        return None
    record: dict[str, JSONValue] = {**spent, "scope": SCOPE}
    evaluated_spent = privacy_spent(evaluated) if evaluated is not registered else None
    if evaluated_spent is not None:
        record["evaluated_model_epsilon"] = evaluated_spent.get("epsilon")
    return record
