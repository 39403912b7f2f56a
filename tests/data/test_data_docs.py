from __future__ import annotations

import doctest
from types import ModuleType

import pytest
from tests._paths import ROOT

from trainforge.data import limits, personal_values, privacy, profile, read, schema, splits, targets


@pytest.mark.parametrize("module", [read, limits, schema, targets, profile, splits, privacy,
                                    personal_values],
                         ids=lambda m: m.__name__)
def test_the_examples_in_the_docstrings_run(module: ModuleType, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)  # the examples read examples/*.csv
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert (result.failed, result.attempted > 0) == (0, True)
