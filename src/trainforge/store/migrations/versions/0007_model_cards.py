"""Model cards: the parts of a model version's card only a person knows (intended use, users,
out-of-scope uses, ethical considerations, caveats, contact), with who wrote them and when.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "model_card_notes",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("written_by", sa.String(100), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_card_notes"),
    )
    op.create_index("ix_model_card_notes_name_version", "model_card_notes", ["name", "version"])


def downgrade() -> None:
    op.drop_index("ix_model_card_notes_name_version", table_name="model_card_notes")
    op.drop_table("model_card_notes")
