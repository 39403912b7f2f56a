"""Federations coordinated by the server: the federations, who joined them, and the client
role for tokens (a client token joins its one federation, named on the token).

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trainforge.store.role_checks import allow_roles

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_ROLES = "role IN ('client', 'viewer', 'annotator', 'editor', 'admin')"
_OLD_ROLES = "role IN ('viewer', 'annotator', 'editor', 'admin')"


def upgrade() -> None:
    allow_roles("api_tokens", _ROLES)
    op.add_column("api_tokens", sa.Column("federation", sa.String(100), nullable=True))
    op.create_table(
        "federations",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("current_round", sa.Integer, nullable=False, server_default="0"),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("model_name", sa.String(100), nullable=True),
        sa.Column("model_version", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('waiting', 'running', 'succeeded', 'failed')",
                           name="ck_federations_state"),
        sa.PrimaryKeyConstraint("name", name="pk_federations"),
    )
    op.create_table(
        "federation_members",
        sa.Column("federation", sa.String(100), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["federation"], ["federations.name"], ondelete="CASCADE",
                                name="fk_federation_members_federation_federations"),
        sa.PrimaryKeyConstraint("federation", "client", name="pk_federation_members"),
    )


def downgrade() -> None:
    op.drop_table("federation_members")
    op.drop_table("federations")
    # the client tokens go with their role: the older check has no room for them
    op.execute("DELETE FROM api_tokens WHERE role = 'client'")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("federation")
    allow_roles("api_tokens", _OLD_ROLES)
