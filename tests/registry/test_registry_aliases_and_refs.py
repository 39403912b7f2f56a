"""Finding a version by NAME, NAME:VERSION or NAME@ALIAS; moving aliases; deleting."""

from __future__ import annotations

import pytest

from trainforge.algorithms.model import TabularModel
from trainforge.errors import BadModelName, BadModelRef, ModelNotFound
from trainforge.registry import Registry


@pytest.fixture
def three_versions(registry: Registry, classifier: TabularModel, lineage: dict) -> Registry:
    for _ in range(3):
        registry.register(classifier, name="credit", metrics={}, lineage=lineage)
    return registry


def test_a_bare_name_means_the_latest_version(three_versions: Registry):
    assert three_versions.resolve("credit") == ("credit", 3)


def test_name_colon_version_means_that_version(three_versions: Registry):
    assert three_versions.resolve("credit:2") == ("credit", 2)


def test_an_alias_points_at_the_version_it_was_given(three_versions: Registry):
    three_versions.alias("credit", 2, "production")
    assert three_versions.load("credit@production").version == 2


def test_setting_an_alias_again_moves_it(three_versions: Registry):
    three_versions.alias("credit", 1, "production")
    three_versions.alias("credit", 3, "production")
    assert three_versions.resolve("credit@production") == ("credit", 3)
    assert [v.aliases for v in three_versions.versions("credit")] == [(), (), ("production",)]


def test_show_lists_the_aliases_of_that_version(three_versions: Registry):
    three_versions.alias("credit", 2, "staging")
    three_versions.alias("credit", 2, "production")
    assert three_versions.show("credit@staging")["aliases"] == ["production", "staging"]


def test_an_alias_to_a_missing_version_is_refused(three_versions: Registry):
    with pytest.raises(ModelNotFound, match="'credit:9'"):
        three_versions.alias("credit", 9, "production")


def test_an_alias_that_looks_like_a_version_is_refused(three_versions: Registry):
    with pytest.raises(BadModelName, match="'2' cannot be a model alias"):
        three_versions.alias("credit", 1, "2")


def test_a_misspelt_name_suggests_the_registered_one(three_versions: Registry):
    with pytest.raises(ModelNotFound, match="Did you mean 'credit'"):
        three_versions.load("credt")


def test_an_unknown_alias_is_not_found(three_versions: Registry):
    with pytest.raises(ModelNotFound, match="'credit@production'"):
        three_versions.resolve("credit@production")


@pytest.mark.parametrize("ref", ["", "credit:", "credit:0", "credit:x", "credit@", "credit@1",
                                 "credit:1@prod", "../credit", "a/b"])
def test_a_malformed_reference_says_how_to_write_one(registry: Registry, ref: str):
    with pytest.raises(BadModelRef, match="NAME, NAME:VERSION or NAME@ALIAS"):
        registry.resolve(ref)


def test_deleting_a_version_removes_its_files_and_its_row(three_versions: Registry):
    path = three_versions.versions("credit")[1].path
    assert three_versions.delete("credit", 2) == [2]
    assert not path.exists()
    assert [v.version for v in three_versions.versions("credit")] == [1, 3]


def test_deleting_a_version_removes_the_aliases_pointing_at_it(three_versions: Registry):
    three_versions.alias("credit", 3, "production")
    three_versions.alias("credit", 1, "fallback")
    three_versions.delete("credit", 3)
    assert three_versions.list_models()[0].aliases == {"fallback": 1}


def test_deleting_a_name_removes_every_version(three_versions: Registry):
    three_versions.delete("credit")
    assert three_versions.list_models() == []
    assert not any((three_versions.root / "credit").iterdir())


def test_deleting_a_missing_version_says_it_is_not_found(three_versions: Registry):
    with pytest.raises(ModelNotFound, match="'credit:7'"):
        three_versions.delete("credit", 7)


def test_the_latest_version_after_deleting_it_is_the_one_before(three_versions: Registry):
    three_versions.delete("credit", 3)
    assert three_versions.resolve("credit") == ("credit", 2)


def test_a_deleted_version_number_is_never_given_again(three_versions: Registry,
                                                       classifier: TabularModel, lineage: dict):
    three_versions.delete("credit", 3)
    again = three_versions.register(classifier, name="credit", metrics={}, lineage=lineage)
    assert again.version == 4


def test_removing_an_alias_keeps_the_version_it_pointed_at(three_versions: Registry):
    three_versions.alias("credit", 2, "production")
    three_versions.unalias("credit", "production")
    assert [v.aliases for v in three_versions.versions("credit")] == [(), (), ()]
    assert three_versions.resolve("credit:2") == ("credit", 2)


def test_removing_an_unset_alias_says_it_is_not_found(three_versions: Registry):
    with pytest.raises(ModelNotFound, match="'credit@production'"):
        three_versions.unalias("credit", "production")
