"""The declared schema every holder of a federation encodes by, and the check that refuses a
holder whose table does not fit it; the federated model as an ordinary estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests._paths import EXAMPLES

from trainforge.data.declared_schema import DeclaredSchema
from trainforge.data.read import read_table
from trainforge.errors import ConfigError, FederationSchemaMismatch, FlowerNotInstalled
from trainforge.federated.environment import flower_python
from trainforge.federated.linear import encode, global_model, initial_weights
from trainforge.federated.planning import declare_table


@pytest.fixture(scope="module")
def declared() -> tuple[DeclaredSchema, pd.DataFrame]:
    table = declare_table(read_table(EXAMPLES / "credit_g.csv"), "class")
    return table.schema, table.frame


def test_a_by_column_partitions_column_is_not_a_feature_of_the_federation():
    credit = read_table(EXAMPLES / "credit_g.csv")
    everything = declare_table(credit, "class", model="mlp")
    by_purpose = declare_table(credit, "class", model="mlp", leave_out="purpose")
    assert "purpose" in everything.choice.table_features
    assert by_purpose.choice.table_features == [
        name for name in everything.choice.table_features if name != "purpose"]
    assert "purpose" not in [column["name"] for column in by_purpose.schema.to_dict()["columns"]]


def test_a_cnn_asked_of_a_table_is_refused_naming_the_table():
    with pytest.raises(ConfigError, match="credit_g.csv has no image column"):
        declare_table(read_table(EXAMPLES / "credit_g.csv"), "class", model="cnn")


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
