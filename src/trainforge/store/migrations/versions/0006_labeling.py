"""Labeling: projects, their items, labels (skips among them) and the quick model's scores;
and the annotator role for users and tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-10
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from trainforge.store.role_checks import allow_roles

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_ROLES = "role IN ('viewer', 'annotator', 'editor', 'admin')"
_OLD_ROLES = "role IN ('viewer', 'editor', 'admin')"


def _when(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _allow_user_roles(check: str) -> None:
    # the copy of ``users`` drops the table, and with foreign keys on that deletes every
    # session: keep them aside and put them back (user ids are copied unchanged)
    sessions = sa.table("sessions", *(sa.column(c) for c in (
        "id", "user_id", "csrf_token", "created_at", "expires_at")))
    kept = [dict(row._mapping) for row in op.get_bind().execute(sa.select(sessions))]
    allow_roles("users", check)
    if kept:
        op.get_bind().execute(sa.delete(sessions))
        op.bulk_insert(sessions, kept)


def upgrade() -> None:
    _allow_user_roles(_ROLES)
    allow_roles("api_tokens", _ROLES)
    op.create_table(
        "labeling_projects",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("classes", sa.JSON, nullable=False),
        sa.Column("modality", sa.String(10), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("item_column", sa.String(200), nullable=True),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("overlap", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        _when("created_at", nullable=False),
        sa.CheckConstraint("modality IN ('text', 'image', 'table')",
                           name="ck_labeling_projects_modality"),
        sa.PrimaryKeyConstraint("id", name="pk_labeling_projects"),
        sa.UniqueConstraint("name", name="uq_labeling_projects_name"),
    )
    op.create_table(
        "labeling_items",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["labeling_projects.id"], ondelete="CASCADE",
                                name="fk_labeling_items_project_id_labeling_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_labeling_items"),
        sa.UniqueConstraint("project_id", "position",
                            name="uq_labeling_items_project_id_position"),
    )
    op.create_table(
        "labeling_labels",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("item_id", sa.Integer, nullable=False),
        sa.Column("annotator", sa.String(100), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
        _when("created_at", nullable=False),
        _when("replaced_at"),
        sa.ForeignKeyConstraint(["project_id"], ["labeling_projects.id"], ondelete="CASCADE",
                                name="fk_labeling_labels_project_id_labeling_projects"),
        sa.ForeignKeyConstraint(["item_id"], ["labeling_items.id"], ondelete="CASCADE",
                                name="fk_labeling_labels_item_id_labeling_items"),
        sa.PrimaryKeyConstraint("id", name="pk_labeling_labels"),
    )
    op.create_index("ix_labeling_labels_project_id_item_id", "labeling_labels",
                    ["project_id", "item_id"])
    op.create_index("ix_labeling_labels_current", "labeling_labels", ["item_id", "annotator"],
                    unique=True, sqlite_where=sa.text("replaced_at IS NULL"),
                    postgresql_where=sa.text("replaced_at IS NULL"))
    op.create_table(
        "labeling_scores",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("n_labels", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        _when("at", nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["labeling_projects.id"], ondelete="CASCADE",
                                name="fk_labeling_scores_project_id_labeling_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_labeling_scores"),
    )
    op.create_index("ix_labeling_scores_project_id_n_labels", "labeling_scores",
                    ["project_id", "n_labels"])


def downgrade() -> None:
    op.drop_index("ix_labeling_scores_project_id_n_labels", table_name="labeling_scores")
    op.drop_table("labeling_scores")
    op.drop_index("ix_labeling_labels_current", table_name="labeling_labels")
    op.drop_index("ix_labeling_labels_project_id_item_id", table_name="labeling_labels")
    op.drop_table("labeling_labels")
    op.drop_table("labeling_items")
    op.drop_table("labeling_projects")
    # annotators become viewers: they keep reading, and the old check holds again
    for table in ("users", "api_tokens"):
        op.execute(sa.text(f"UPDATE {table} SET role = 'viewer' WHERE role = 'annotator'"))
    allow_roles("api_tokens", _OLD_ROLES)
    _allow_user_roles(_OLD_ROLES)
