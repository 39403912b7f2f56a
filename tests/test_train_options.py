"""One declaration of the training options: `TrainConfig`. The CLI's `trainforge train`, the
SDK's `tf.train`, the REST `TrainJob` and a TOML file all take its fields, by one spelling,
with its defaults and bounds; `trainforge server`'s flags are `ServerConfig`'s. The CLI
declares its options by hand (importing pydantic would cost `trainforge --help` ~0.4 s), so
this checks them; the REST body is derived, and this keeps it so."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import click
import pytest
import typer

import trainforge as tf
from trainforge.cli.app import app
from trainforge.cli.train_cmd import build_config
from trainforge.config import ServerConfig, TrainConfig
from trainforge.errors import ConfigError
from trainforge.server.job_requests import LOCAL_ONLY, TrainJob

# what only one door has, and why
CLI_ONLY = {"resume", "config", "server", "token"}  # resume a run; read a file; train remotely
SDK_ONLY = {"resume", "workspace", "observers"}  # resume a run; the objects a notebook passes
# a job's kind; the upload it reads (never a path or a URL); what it reserves on a Ray cluster
REST_ONLY = {"kind", "dataset", "cpus", "gpus", "memory_mb"}


def spelled(name: str) -> str:
    """The field's name as users type it (its alias: ``time_budget_s`` is ``time_budget``)."""
    return TrainConfig.model_fields[name].alias or name


def default(name: str) -> Any:
    return TrainConfig.model_fields[name].get_default()


CONFIG_FIELDS = {spelled(name): name for name in TrainConfig.model_fields}


def cli_params(verb: str) -> dict[str, click.Parameter]:
    command = typer.main.get_command(app).commands[verb]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params}


def test_the_cli_train_options_are_the_config_fields_and_its_own():
    assert set(cli_params("train")) - CLI_ONLY == set(CONFIG_FIELDS)


def test_the_sdk_train_keywords_are_the_config_fields_and_its_own():
    assert set(inspect.signature(tf.train).parameters) - SDK_ONLY == set(CONFIG_FIELDS)


def test_the_rest_train_body_is_the_config_less_what_only_a_local_door_may_use():
    shared = set(TrainConfig.model_fields) - LOCAL_ONLY[TrainConfig]
    assert set(TrainJob.model_fields) - REST_ONLY == shared


def test_the_budget_has_one_spelling_at_every_door():
    assert "--time-budget" in cli_params("train")["time_budget"].opts
    assert "time_budget" in inspect.signature(tf.train).parameters
    assert "time_budget" in TrainJob.model_json_schema()["properties"]
    assert build_config({"data": "x.csv", "time_budget": 5}, None).time_budget_s == 5


@pytest.mark.parametrize("name", sorted(set(CONFIG_FIELDS) - {"data"}))
def test_the_sdk_defaults_are_the_configs(name: str):
    assert inspect.signature(tf.train).parameters[name].default == default(CONFIG_FIELDS[name])


@pytest.mark.parametrize("name", sorted(set(TrainConfig.model_fields) - LOCAL_ONLY[TrainConfig]))
def test_the_rest_fields_have_the_configs_default_bounds_and_spelling(name: str):
    body, config = TrainJob.model_fields[name], TrainConfig.model_fields[name]
    assert (body.get_default(), body.metadata, body.alias, body.annotation) == \
        (config.get_default(), config.metadata, config.alias, config.annotation)


@pytest.mark.parametrize("name", sorted(n for n in set(CONFIG_FIELDS) - {"data"}
                                        if default(CONFIG_FIELDS[n]) not in (None, False, ())))
def test_the_cli_help_states_the_configs_default(name: str):
    # the flags default to None, so that a --config file's value stands unless typed again
    stated = re.findall(r"\(default: ([^)]+)\)", cli_params("train")[name].help or "")
    assert stated == [_shown(default(CONFIG_FIELDS[name]))]


def _shown(value: Any) -> str:
    """A default as the help writes it: 60.0 is "60"."""
    return f"{value:g}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize(("flag", "value"), [("seed", -1), ("trials", 0), ("time_budget", 0),
                                             ("test_size", 0.95), ("split", "sideways"),
                                             ("pii", "nonsense"), ("label_issues", "fix"),
                                             ("rules", "loud"), ("search_workers", 0),
                                             ("search_backend", "cluster"),
                                             ("fairness_constraint", "parity"),
                                             ("dp_epsilon", 0), ("dp_epsilon", -1.0),
                                             ("dp_delta", 1.0), ("dp_delta", 0.0),
                                             ("dp_max_grad_norm", 0), ("max_epochs", 0)])
def test_the_cli_refuses_what_the_config_refuses_naming_the_flag(flag: str, value: Any):
    with pytest.raises(ConfigError, match=f"--{flag.replace('_', '-')}"):
        build_config({"data": "x.csv", flag: value}, None)


def test_a_toml_file_takes_every_config_field_by_its_users_spelling(tmp_path: Path):
    values = {"data": "x.csv", "target": "class", "name": "credit", "sql": "select 1",
              "intended_use": "pre-screening", "intended_users": "the credit team",
              "algorithm": "linear", "time_budget": 30.0, "trials": 3, "search_workers": 2,
              "search_backend": "ray", "metric": "roc_auc",
              "seed": 7, "test_size": 0.25, "split": "time", "group_column": "g",
              "time_column": "t", "init_from": "net@production", "freeze_backbone": True, "workers": 1,
              "max_epochs": 8, "pii": "hash", "label_issues": "review", "rules": "stop",
              "dp_epsilon": 3.0, "dp_delta": 1e-6, "dp_max_grad_norm": 0.5,
              "sensitive_features": ("sex", "race"),
              "sensitive_as_features": False, "fairness_constraint": "demographic_parity",
              "fairness_tolerance": 0.05}
    assert set(values) == set(CONFIG_FIELDS)
    path = tmp_path / "run.toml"
    path.write_text("".join(f"{key} = {_toml(value)}\n" for key, value in values.items()))
    read = build_config({}, path)
    assert {spelled(k): v for k, v in read.model_dump().items()} == values


def test_an_unknown_pii_policy_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match=r"--pii: .*'warn', 'drop', 'hash' or 'mask'"):
        build_config({"data": "x.csv", "pii": "nonsense"}, None)


def test_sensitive_features_are_typed_comma_separated_at_the_cli():
    assert build_config({"data": "x.csv", "sensitive_features": "sex, race"},
                        None).sensitive_features == ("sex", "race")


def test_a_fairness_constraint_without_sensitive_features_is_refused_saying_to_give_them():
    with pytest.raises(ConfigError, match="give sensitive_features"):
        build_config({"data": "x.csv", "fairness_constraint": "demographic_parity"}, None)


def test_a_fairness_tolerance_for_equalized_odds_is_refused_saying_what_it_relaxes():
    with pytest.raises(ConfigError, match="relaxes fairness_constraint demographic_parity"):
        build_config({"data": "x.csv", "sensitive_features": "sex", "fairness_tolerance": 0.05,
                      "fairness_constraint": "equalized_odds"}, None)


def test_a_toml_files_old_budget_key_is_read_with_a_warning_to_rename_it(tmp_path: Path):
    path = tmp_path / "run.toml"
    path.write_text('data = "x.csv"\ntime_budget_s = 30\n')
    with pytest.warns(FutureWarning, match="write `time_budget`"):
        assert build_config({}, path).time_budget_s == 30


def test_a_toml_file_with_both_budget_keys_is_refused(tmp_path: Path):
    path = tmp_path / "run.toml"
    path.write_text('data = "x.csv"\ntime_budget_s = 30\ntime_budget = 20\n')
    with pytest.raises(ConfigError, match="keep time_budget"):
        build_config({}, path)


def _toml(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def test_the_server_flags_are_the_server_configs_fields():
    assert set(cli_params("server")) == set(ServerConfig.model_fields)


@pytest.mark.parametrize("name", sorted(ServerConfig.model_fields))
def test_the_server_flags_defaults_are_the_server_configs(name: str):
    assert cli_params("server")[name].default == ServerConfig.model_fields[name].get_default()
