"""Labels in the store: never overwritten, undo is a mark, and two annotators at once both
count."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from tests.labeling._projects import text_project

from trainforge.store import access, labeling, migrate
from trainforge.store.tables import labeling_labels
from trainforge.workspace import Workspace


def test_two_annotators_labelling_the_same_item_at_once_are_both_recorded(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    project = text_project(workspace, tmp_path)
    start = threading.Barrier(2)

    def label(annotator: str, choice: str) -> None:
        start.wait()
        labeling.add_label(workspace, project, 0, annotator=annotator, label=choice)

    threads = [threading.Thread(target=label, args=args)
               for args in (("ann", "spam"), ("bob", "ham"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    current = labeling.current_labels(workspace, project["id"])
    assert sorted((r["annotator"], r["label"]) for r in current) == [("ann", "spam"),
                                                                      ("bob", "ham")]


def test_relabelling_an_item_keeps_the_old_label_marked_replaced(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    project = text_project(workspace, tmp_path)
    labeling.add_label(workspace, project, 0, annotator="ann", label="spam")
    labeling.add_label(workspace, project, 0, annotator="ann", label="ham")
    with workspace.engine.connect() as connection:
        rows = connection.execute(sa.select(labeling_labels.c.label,
                                            labeling_labels.c.replaced_at.is_not(None))
                                  .order_by(labeling_labels.c.id)).all()
    assert [tuple(r) for r in rows] == [("spam", True), ("ham", False)]


def test_undo_marks_the_annotators_latest_label_and_names_its_item(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    project = text_project(workspace, tmp_path)
    labeling.add_label(workspace, project, 0, annotator="ann", label="spam")
    labeling.add_label(workspace, project, 3, annotator="ann", label="ham")
    labeling.add_label(workspace, project, 5, annotator="bob", label="ham")
    assert labeling.undo_last(workspace, project, annotator="ann") == 3
    assert [(r["annotator"], r["position"]) for r in
            labeling.current_labels(workspace, project["id"])] == [("ann", 0), ("bob", 5)]


def test_the_annotator_role_is_a_role_users_and_tokens_can_hold(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    access.create_user(workspace, username="ann", password="a long password", role="annotator")
    token, _ = access.create_token(workspace, name="ann-token", role="annotator")
    assert access.principal_for_token(workspace, token).role == "annotator"


def test_upgrading_to_the_labeling_schema_keeps_every_session(tmp_path: Path):
    workspace = Workspace(tmp_path / "home")
    access.create_user(workspace, username="eve", password="a long password", role="editor")
    secret, _ = access.create_session(workspace, "eve")
    with workspace.engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "0005")
        connection.commit()
    migrate.upgrade(workspace.engine)
    assert access.session_principal(workspace, secret)[0].name == "eve"
