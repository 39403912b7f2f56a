"""After deployment: each deployment's log policy, the feedback labels, what jobs and
deployments cost, and the retraining policies with their decisions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("deployments", sa.Column("log_policy", sa.JSON, nullable=True))
    op.add_column("deployments", sa.Column("shadow_model", sa.String(100), nullable=True))
    op.add_column("deployments", sa.Column("shadow_version", sa.Integer, nullable=True))
    op.add_column("deployments", sa.Column("promotion_rule", sa.JSON, nullable=True))
    op.create_table(
        "deployment_events",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("deployment", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=True),
        sa.Column("from_model", sa.String(100), nullable=True),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("by", sa.String(100), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.CheckConstraint("action IN ('deploy', 'promote', 'rollback', 'undeploy', "
                           "'shadow_on', 'shadow_off')", name="ck_deployment_events_action"),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_events"),
    )
    op.create_index("ix_deployment_events_deployment_at", "deployment_events",
                    ["deployment", "at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("deployment", sa.String(100), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(100), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_deployment_request_id", "feedback",
                    ["deployment", "request_id", "row"])
    op.create_index("ix_feedback_deployment_received_at", "feedback",
                    ["deployment", "received_at"])


    op.add_column("jobs", sa.Column("cpu_s", sa.Float, nullable=True))
    op.add_column("jobs", sa.Column("peak_memory_mb", sa.Float, nullable=True))
    op.create_table(
        "deployment_usage",
        sa.Column("deployment", sa.String(100), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("predictions", sa.Integer, nullable=False),
        sa.Column("cpu_s", sa.Float, nullable=False),
        sa.Column("peak_memory_mb", sa.Float, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "day", "process", name="pk_deployment_usage"),
    )

    op.add_column("datasets", sa.Column("lineage", sa.JSON, nullable=True))
    op.create_table(
        "retrain_policies",
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_name", name="pk_retrain_policies"),
    )
    op.create_table(
        "retrain_events",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("dataset_id", sa.Integer, nullable=True),
        sa.Column("model_version", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.CheckConstraint("outcome IN ('queued', 'succeeded', 'failed', 'skipped')",
                           name="ck_retrain_events_outcome"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"],
                                name="fk_retrain_events_dataset_id_datasets"),
        sa.PrimaryKeyConstraint("id", name="pk_retrain_events"),
    )
    op.create_index("ix_retrain_events_model_name_at", "retrain_events", ["model_name", "at"])


def downgrade() -> None:
    op.drop_index("ix_retrain_events_model_name_at", table_name="retrain_events")
    op.drop_table("retrain_events")
    op.drop_table("retrain_policies")
    op.drop_column("datasets", "lineage")
    op.drop_table("deployment_usage")
    op.drop_column("jobs", "peak_memory_mb")
    op.drop_column("jobs", "cpu_s")
    op.drop_index("ix_feedback_deployment_received_at", table_name="feedback")
    op.drop_index("ix_feedback_deployment_request_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_deployment_events_deployment_at", table_name="deployment_events")
    op.drop_table("deployment_events")
    op.drop_column("deployments", "promotion_rule")
    op.drop_column("deployments", "shadow_version")
    op.drop_column("deployments", "shadow_model")
    op.drop_column("deployments", "log_policy")
