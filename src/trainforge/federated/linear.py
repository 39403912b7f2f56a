"""The model a federation learns: a linear model on the declared encoding.

Its weights are two arrays, ``[W (outputs × inputs), b (outputs)]``: one output per class
(softmax) for classification, one scaled number for regression. That is what travels each
round. After the last round the weights become an ordinary scikit-learn estimator (logistic
or ridge regression, as the catalog's ``linear`` algorithm fits) behind the declared
preprocessor, so the registered package, serving and evaluation need no federated case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge

from trainforge.algorithms.model import Member, TabularModel, coerce_frame, feature_specs
from trainforge.data.declared_schema import DeclaredSchema
from trainforge.data.prepare import TablePreprocessor
from trainforge.data.targets import label_text

Weights = list[np.ndarray]


def n_outputs(schema: DeclaredSchema) -> int:
    return len(schema.task.classes) if schema.task.kind.is_classification else 1


def initial_weights(schema: DeclaredSchema) -> Weights:
    """Zeros: the loss is convex, so no random start is needed, and every run starts alike."""
    width = schema.preprocessor().n_features_out_
    outputs = n_outputs(schema)
    return [np.zeros((outputs, width), dtype=np.float32), np.zeros(outputs, dtype=np.float32)]


def encode(frame: pd.DataFrame, schema: DeclaredSchema,
           preprocessor: TablePreprocessor) -> tuple[np.ndarray, np.ndarray]:
    """A holder's rows as (inputs, targets): class codes, or the target scaled as declared."""
    specs = feature_specs(schema.schema, schema.features)
    inputs = np.asarray(preprocessor.transform(coerce_frame(frame, specs)), dtype=np.float32)
    return inputs, targets_of(frame, schema)


def targets_of(frame: pd.DataFrame, schema: DeclaredSchema) -> np.ndarray:
    """Each row's class code (its position in the declared classes), or its scaled target."""
    if schema.task.kind.is_classification:
        codes = {label: code for code, label in enumerate(schema.task.classes)}
        return np.asarray([codes[label] for label in label_text(frame, schema.task.target)],
                          dtype=np.int64)
    raw = pd.to_numeric(frame[schema.task.target], errors="coerce").to_numpy(np.float64)
    return np.asarray((raw - schema.target_center) / schema.target_scale, dtype=np.float32)


def as_estimator(weights: Weights, schema: DeclaredSchema) -> LogisticRegression | Ridge:
    """The weights as the fitted scikit-learn estimator they are: softmax weights as a
    multinomial logistic regression (two classes: the difference of their rows, which gives
    the same probabilities through a sigmoid), the scaled regression as a ridge's
    coefficients in the target's own units."""
    matrix, bias = (np.asarray(w, dtype=np.float64) for w in weights)
    estimator: LogisticRegression | Ridge
    if schema.task.kind.is_classification:
        estimator = LogisticRegression()
        if len(schema.task.classes) == 2:
            matrix, bias = (matrix[1] - matrix[0])[None, :], np.asarray([bias[1] - bias[0]])
        estimator.classes_ = np.arange(len(schema.task.classes))
        estimator.coef_, estimator.intercept_ = matrix, bias
        estimator.n_iter_ = np.asarray([0], dtype=np.int32)
    else:
        estimator = Ridge()
        estimator.coef_ = matrix[0] * schema.target_scale
        estimator.intercept_ = float(bias[0] * schema.target_scale + schema.target_center)
    estimator.n_features_in_ = matrix.shape[1]
    return estimator


def global_model(weights: Weights, schema: DeclaredSchema, *,
                 preprocessor: TablePreprocessor | None = None) -> TabularModel:
    """The federation's model as a TabularModel: declared preprocessor, then the estimator."""
    member = Member(algorithm="linear", params={"federated": True},
                    preprocessor=preprocessor or schema.preprocessor(),
                    estimator=as_estimator(weights, schema))
    return TabularModel(task=schema.task,
                        features=feature_specs(schema.schema, schema.features),
                        members=[member])
