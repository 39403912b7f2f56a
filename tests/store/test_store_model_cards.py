"""The written parts of model cards in the store: the latest text of a field is current, the
history stays, a new version inherits, and deleted versions are forgotten."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from trainforge.store import migrate, model_cards
from trainforge.store.tables import model_card_notes
from trainforge.workspace import Workspace


def test_the_latest_text_of_a_field_is_current_and_the_older_stays_as_history(tmp_path: Path):
    workspace = Workspace(tmp_path)
    model_cards.write_notes(workspace, "credit", 1, {"intended_use": "screening"},
                            written_by="eve")
    model_cards.write_notes(workspace, "credit", 1, {"intended_use": "pre-screening"},
                            written_by="ann")
    current = model_cards.current_notes(workspace, "credit", 1)["intended_use"]
    with workspace.engine.connect() as connection:
        kept = connection.execute(sa.select(sa.func.count()).select_from(model_card_notes))
    assert (current["text"], current["written_by"], kept.scalar()) == ("pre-screening", "ann", 2)


def test_an_empty_text_clears_a_field(tmp_path: Path):
    workspace = Workspace(tmp_path)
    model_cards.write_notes(workspace, "credit", 1, {"contact": "risk team"}, written_by="eve")
    model_cards.write_notes(workspace, "credit", 1, {"contact": ""}, written_by="eve")
    assert model_cards.current_notes(workspace, "credit", 1) == {}


def test_a_new_version_inherits_what_was_written_for_an_earlier_one(tmp_path: Path):
    workspace = Workspace(tmp_path)
    model_cards.write_notes(workspace, "credit", 1, {"intended_use": "screening"},
                            written_by="eve")
    model_cards.write_notes(workspace, "credit", 2, {"contact": "risk team"}, written_by="eve")
    current = model_cards.current_notes(workspace, "credit", 3)
    assert {f: (n["text"], n["version"]) for f, n in current.items()} == {
        "intended_use": ("screening", 1), "contact": ("risk team", 2)}


def test_notes_of_deleted_versions_are_forgotten(tmp_path: Path):
    workspace = Workspace(tmp_path)
    model_cards.write_notes(workspace, "credit", 1, {"intended_use": "screening"},
                            written_by="eve")
    with workspace.engine.begin() as connection:
        model_cards.forget_notes(connection, "credit", [1])
    assert model_cards.current_notes(workspace, "credit", 5) == {}


def test_the_card_notes_table_comes_and_goes_with_its_migration(tmp_path: Path):
    workspace = Workspace(tmp_path)
    with workspace.engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "0006")
        connection.commit()
    assert "model_card_notes" not in sa.inspect(workspace.engine).get_table_names()
    migrate.upgrade(workspace.engine)
    assert "model_card_notes" in sa.inspect(workspace.engine).get_table_names()
