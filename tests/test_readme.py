"""The README's examples run as written (only the time budget shrinks to keep the suite quick)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from tests._paths import EXAMPLES, ROOT

import trainforge as tf


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.slow
def test_the_readme_python_example_trains_predicts_and_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = _python_blocks()[0].replace("time_budget=30", "trials=2")
    frame = pd.read_csv(EXAMPLES / "credit_g.csv").drop(columns=["class"]).head(3)
    namespace = {"frame": frame}
    # the example loads an alias: set it as the README's CLI section does
    code = code.replace('tf.load("credit_g@production")',
                        'tf.Workspace().registry.alias("credit_g", model.version, "production")\n'
                        'tf.load("credit_g@production")')
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 -- our own README
    assert isinstance(namespace["model"], tf.TrainedModel)


def test_every_cli_command_in_the_readme_exists():
    from typer.main import get_command

    from trainforge.cli.app import app

    root = get_command(app)
    text = (ROOT / "README.md").read_text()
    for line in re.findall(r"^\$ trainforge ([a-z]+(?: [a-z]+)?)", text, flags=re.MULTILINE):
        words = line.split()
        command = root.commands.get(words[0])  # type: ignore[attr-defined]
        assert command is not None, f"README uses `trainforge {words[0]}`, which does not exist"
