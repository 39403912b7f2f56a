"""What a federation is measured against: the same model trained centrally on the union of the
holders' training rows, as if they could be pooled.

The linear model is the catalog's ``linear`` algorithm (fitted to convergence, the best a
linear model can do on those rows); the trees are the catalog's ``xgboost`` with the
federation's settings, as many boosting iterations as the federation took. The networks are trained by the very step the clients
run (``local_step``), from the same start, for as many passes over the pooled rows as each
client made over its own (rounds × local epochs): the gap between the two is what
federating costs, not a difference of optimiser or architecture.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from trainforge.algorithms.catalog import get, n_threads
from trainforge.algorithms.model import Member, TabularModel, feature_specs
from trainforge.algorithms.network import limited_threads
from trainforge.data.prepare import TablePreprocessor
from trainforge.federated import linear, trees
from trainforge.federated.local_step import train_locally
from trainforge.federated.networks import (
    build_network,
    encode,
    global_model,
    holder_preprocessor,
    initial_weights,
)
from trainforge.federated.plan import FederationPlan


def centralised_model(plan: FederationPlan, rows: pd.DataFrame) -> TabularModel:
    """The plan's model trained on ``rows`` (the holders' training rows together)."""
    if plan.model == "linear":
        return _catalog_linear(plan, rows)
    if plan.model == "xgboost":
        return _catalog_xgboost(plan, rows)
    inputs, targets = encode(rows, plan, holder_preprocessor(plan))
    # one thread, as each client has: minibatches this small gain nothing from more, and
    # threads spinning on a loaded machine make it several times slower
    with limited_threads(1):
        result = train_locally(build_network(plan), initial_weights(plan), inputs, targets,
                               classification=plan.schema.task.kind.is_classification,
                               epochs=plan.rounds * plan.local_epochs,
                               batch_size=plan.batch_size, learning_rate=plan.learning_rate,
                               proximal_mu=0.0, seed=plan.seed)
    return global_model(result.weights, plan)


def _catalog_linear(plan: FederationPlan, rows: pd.DataFrame) -> TabularModel:
    """The catalog's linear model with the declared encoding."""
    schema = plan.schema
    preprocessor = schema.preprocessor()
    inputs, targets = linear.encode(rows, schema, preprocessor)
    estimator = get("linear").build({}, schema.task, plan.seed)
    if not schema.task.kind.is_classification:  # encode scaled the target; fit on its units
        targets = targets * schema.target_scale + schema.target_center
    estimator.fit(inputs, targets)
    return _pooled_model(plan, "linear", preprocessor, estimator)


def _catalog_xgboost(plan: FederationPlan, rows: pd.DataFrame) -> TabularModel:
    """The catalog's XGBoost with the federation's settings and encoding, boosting as many
    iterations on the pooled rows as the federation took steps (rounds × each holder's
    iterations a round: a round adds the holders' row-weighted average step)."""
    schema = plan.schema
    preprocessor = schema.preprocessor()
    inputs = linear.encode(rows, schema, preprocessor)[0]
    estimator = trees.estimator(plan, n_threads=n_threads()).set_params(
        n_estimators=plan.rounds * plan.local_epochs)
    return _pooled_model(plan, "xgboost", preprocessor,
                         estimator.fit(inputs, trees.targets(rows, schema)))


def _pooled_model(plan: FederationPlan, algorithm: str, preprocessor: TablePreprocessor,
                  estimator: Any) -> TabularModel:
    schema = plan.schema
    return TabularModel(task=schema.task, features=feature_specs(schema.schema, schema.features),
                        members=[Member(algorithm=algorithm, params={},
                                        preprocessor=preprocessor, estimator=estimator)])
