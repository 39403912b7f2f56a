"""model_names: the last version given per model name, so numbers are never reused.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    model_names = op.create_table(
        "model_names",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_model_names"),
    )
    models = sa.table("models", sa.column("name", sa.String), sa.column("version", sa.Integer))
    last = op.get_bind().execute(
        sa.select(models.c.name, sa.func.max(models.c.version)).group_by(models.c.name)).all()
    if last:
        now = datetime.now(UTC)
        op.bulk_insert(model_names, [{"name": name, "last_version": version, "created_at": now}
                                     for name, version in last])


def downgrade() -> None:
    op.drop_table("model_names")
