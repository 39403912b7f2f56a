"""The declared schema every holder of a federation encodes by, and the check that refuses a
holder whose table does not fit it; the federated model as an ordinary estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.data.declared_schema import DeclaredSchema, declare_schema
from trainforge.data.read import read_table
from trainforge.data.targets import clean_target, feature_columns, infer_task
from trainforge.errors import FederationSchemaMismatch, FlowerNotInstalled
from trainforge.federated.environment import flower_python
from trainforge.federated.linear import encode, global_model, initial_weights


@pytest.fixture(scope="module")
def declared() -> tuple[DeclaredSchema, pd.DataFrame]:
    dataset = read_table(EXAMPLES / "credit_g.csv")
    task = infer_task(dataset, "class")
    frame, _ = clean_target(dataset, task)
    features = feature_columns(dataset.schema, task.target, frame=frame)
    return declare_schema(frame, task, schema=dataset.schema, features=features), frame


def test_every_holder_encodes_a_row_alike_whatever_its_own_rows(declared):
    schema, frame = declared
    row = frame.iloc[[0]]
    first, _ = encode(pd.concat([row, frame.iloc[1:100]]), schema, schema.preprocessor())
    second, _ = encode(pd.concat([row, frame.iloc[500:520]]), schema, schema.preprocessor())
    assert np.array_equal(first[0], second[0])


def test_the_declaration_survives_json(declared):
    schema, _ = declared
    assert DeclaredSchema.from_dict(schema.to_dict()) == schema


def test_a_holder_lacking_a_column_is_refused_naming_it(declared):
    schema, frame = declared
    with pytest.raises(FederationSchemaMismatch, match="hospital-2.csv.*lacks column.*'age'"):
        schema.check(frame.drop(columns=["age"]), source="hospital-2.csv")


def test_a_holder_with_a_class_the_federation_lacks_is_refused_naming_it(declared):
    schema, frame = declared
    other = frame.assign(**{"class": frame["class"].replace({"bad": "awful"})})
    with pytest.raises(FederationSchemaMismatch, match="class\\(es\\) 'awful'.*has: bad, good"):
        schema.check(other, source="hospital-2.csv")


def test_the_federated_weights_predict_as_the_linear_model_they_are(declared):
    schema, frame = declared
    weights = initial_weights(schema)
    weights[0][1, 0], weights[1][1] = 2.0, 0.5  # class "good" favoured by the first input
    model = global_model(weights, schema)
    inputs, _ = encode(frame.iloc[:5], schema, schema.preprocessor())
    logits = inputs @ weights[0].T + weights[1]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(model.predict_proba(frame.iloc[:5]), expected, atol=1e-6)


def test_without_flowers_virtualenv_the_error_says_to_set_it_up(tmp_path):
    with pytest.raises(FlowerNotInstalled, match="run `trainforge federated setup`"):
        flower_python(tmp_path / "flower-venv")
