"""The store's tables: datasets, runs and their metric series, models and their aliases, the
platform's jobs, users, tokens, sessions, uploads and deployments, labeling projects,
and the written parts of model cards.

SQLAlchemy Core, so one definition serves SQLite and Postgres. A new store is created from
these definitions; an existing one is brought up to them by the migrations
(``store/migrations``), which are the truth for existing stores: the two must build the same
schema, and ``tests/store/test_store_schema.py`` compares them in full.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# A check constraint named as the database has it. The migrations that made most checks gave
# the full name (``ck_runs_status``) to alembic, which put it through the naming convention
# above again: existing stores hold ``ck_runs_ck_runs_status``, so a new one must too.
AS_MIGRATED = sa.schema.conv

RUN_STATUSES = ("queued", "running", "succeeded", "failed")

datasets = sa.Table(
    "datasets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("n_columns", sa.Integer, nullable=False),
    sa.Column("schema", sa.JSON, nullable=False),
    sa.Column("profile", sa.JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # where a dataset built by trainforge came from (a retrain's feedback: its deployments,
    # time window, labels and parent dataset); null for a file a user gave
    sa.Column("lineage", sa.JSON, nullable=True),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=True),
    sa.Column("metrics", sa.JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("duration_s", sa.Float, nullable=True),
    sa.Column("peak_memory_mb", sa.Float, nullable=True),
    sa.Column("cpu_s", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("model_name", sa.String(100), nullable=True),
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.CheckConstraint(sa.column("status").in_(RUN_STATUSES),
                       name=AS_MIGRATED("ck_runs_ck_runs_status")),
    sa.Index("ix_runs_created_at", "created_at"),
)

run_metrics = sa.Table(
    "run_metrics", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_run_metrics_run_id_key", "run_id", "key", "step"),
)

# one row per model name: the last version number ever given, so a deleted version's number
# is never handed out again (runs, endpoints and logs that name it stay unambiguous)
model_names = sa.Table(
    "model_names", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("last_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

models = sa.Table(
    "models", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("dataset_fingerprint", sa.String(64), nullable=True),
    sa.Column("task_kind", sa.String(20), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),  # relative to the workspace's artifacts
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_models_name_version"),
)

model_aliases = sa.Table(
    "model_aliases", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("alias", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], ["models.name", "models.version"],
                            name="fk_model_aliases_models", ondelete="CASCADE"),
)


# ---- the platform (trainforge server): jobs, access control, uploads, deployments ----------
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
# an annotator reads and labels (labeling projects), and may not upload, train, deploy or export
USER_ROLES = ("viewer", "annotator", "editor", "admin")
# a client (a token, never a user) joins its one federation and reads nothing else
ROLES = ("client", *USER_ROLES)

# one unit of background work (train, predict, evaluate), claimed by one worker at a time
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("submitted_by", sa.String(100), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    # a running job's worker touches this every few seconds; a stale one means a dead worker
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("worker", sa.String(100), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("run_id", sa.String(32), nullable=True),  # the run it made: a retry resumes it
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    # what it cost: CPU-seconds and peak memory of its worker process while it ran
    sa.Column("cpu_s", sa.Float, nullable=True),
    sa.Column("peak_memory_mb", sa.Float, nullable=True),
    sa.CheckConstraint(sa.column("status").in_(JOB_STATUSES),
                       name=AS_MIGRATED("ck_jobs_ck_jobs_status")),
    sa.Index("ix_jobs_status_created_at", "status", "created_at"),
)

job_logs = sa.Table(
    "job_logs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index("ix_job_logs_job_id_id", "job_id", "id"),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(300), nullable=False),  # scrypt, with its salt
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(sa.column("role").in_(USER_ROLES), name="role"),
)

# API tokens: only the sha256 of the secret is kept; the token itself is shown once
api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.String(16), primary_key=True),  # the token's public part, for listing
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_by", sa.String(100), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    # a client token's one federation (null for every other role)
    sa.Column("federation", sa.String(100), nullable=True),
    sa.CheckConstraint(sa.column("role").in_(ROLES), name="role"),
)

# browser sessions: the cookie holds a secret whose sha256 is the id; CSRF token per session
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# files users uploaded through the server, kept under <artifacts>/uploads/<id>/
uploads = sa.Table(
    "uploads", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("filename", sa.String(255), nullable=False),  # the sanitised name it was given
    sa.Column("path", sa.Text, nullable=False),  # relative to the workspace's artifacts
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=True),
    sa.Column("uploaded_by", sa.String(100), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# the models the server's prediction router answers for, by URL name; kept across restarts
deployments = sa.Table(
    "deployments", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("model_name", sa.String(100), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("requested", sa.String(200), nullable=False),  # what was asked: NAME@ALIAS...
    sa.Column("deployed_by", sa.String(100), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # what its prediction log keeps (monitoring.prediction_log.LogPolicy); null: every request
    sa.Column("log_policy", sa.JSON, nullable=True),
    # the challenger answering a copy of the traffic in shadow (its answers only logged)
    sa.Column("shadow_model", sa.String(100), nullable=True),
    sa.Column("shadow_version", sa.Integer, nullable=True),
    # when the shadow is promoted by itself (monitoring.compare.PromotionRule); null: never
    sa.Column("promotion_rule", sa.JSON, nullable=True),
)

# every change of what a deployment serves: who, when, why (rollback reads it back)
deployment_events = sa.Table(
    "deployment_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deployment", sa.String(100), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("model_name", sa.String(100), nullable=True),  # what serves (or shadows) after
    sa.Column("from_model", sa.String(100), nullable=True),  # what served before
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("by", sa.String(100), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.CheckConstraint("action IN ('deploy', 'promote', 'rollback', 'undeploy', "
                       "'shadow_on', 'shadow_off')",
                       name=AS_MIGRATED("ck_deployment_events_ck_deployment_events_action")),
    sa.Index("ix_deployment_events_deployment_at", "deployment", "at"),
)

# ---- after deployment: true outcomes sent back for logged predictions ----------------------
# a label is never overwritten: a replacement is a new row, and the one it replaces gets
# ``replaced_at`` (the history of a request's labels stays readable)
feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deployment", sa.String(100), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("row", sa.Integer, nullable=False),  # the record's position in its request
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("model_name", sa.String(100), nullable=False),  # what answered the request
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("submitted_by", sa.String(100), nullable=True),
    sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_feedback_deployment_request_id", "deployment", "request_id", "row"),
    sa.Index("ix_feedback_deployment_received_at", "deployment", "received_at"),
)

# what serving a deployment cost, per day and per server process (each process writes only its
# own row, so no process reads another's counts to add to them)
deployment_usage = sa.Table(
    "deployment_usage", metadata,
    sa.Column("deployment", sa.String(100), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC
    sa.Column("process", sa.String(100), primary_key=True),  # host:pid
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("predictions", sa.Integer, nullable=False),
    sa.Column("cpu_s", sa.Float, nullable=False),  # CPU time spent answering its requests
    sa.Column("peak_memory_mb", sa.Float, nullable=True),  # of the process serving it
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# ---- continuous learning: each model's retraining policy, and every decision it made --------
retrain_policies = sa.Table(
    "retrain_policies", metadata,
    sa.Column("model_name", sa.String(100), primary_key=True),
    sa.Column("policy", sa.JSON, nullable=False),  # config.RetrainPolicy, by its users' names
    sa.Column("updated_by", sa.String(100), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

RETRAIN_OUTCOMES = ("queued", "succeeded", "failed", "skipped")

retrain_events = sa.Table(
    "retrain_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(100), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),  # drift, metric, labels, schedule, manual
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("job_id", sa.String(32), nullable=True),  # the queued train job (server)
    sa.Column("run_id", sa.String(32), nullable=True),  # the training run, once known
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=True),
    sa.Column("model_version", sa.Integer, nullable=True),  # the challenger it registered
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.CheckConstraint(sa.column("outcome").in_(RETRAIN_OUTCOMES),
                       name=AS_MIGRATED("ck_retrain_events_ck_retrain_events_outcome")),
    sa.Index("ix_retrain_events_model_name_at", "model_name", "at"),
)


# ---- labeling: projects, their items, and every label, skip and quick-model score -----------
LABELING_MODALITIES = ("text", "image", "table")

labeling_projects = sa.Table(
    "labeling_projects", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("classes", sa.JSON, nullable=False),  # the class names, in key order (1-9)
    sa.Column("modality", sa.String(10), nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # the table or folder it was made from
    sa.Column("item_column", sa.String(200), nullable=True),  # text or image column; null: rows
    sa.Column("target", sa.String(200), nullable=False),  # the label's column in an export
    sa.Column("overlap", sa.Integer, nullable=False),  # labels wanted per item
    sa.Column("created_by", sa.String(100), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(sa.column("modality").in_(LABELING_MODALITIES),
                       name=AS_MIGRATED("ck_labeling_projects_ck_labeling_projects_modality")),
)

# one row per item, in the source's order; the payload is what an annotator sees: the text,
# the image's absolute path, or the row's values
labeling_items = sa.Table(
    "labeling_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.Integer,
              sa.ForeignKey("labeling_projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # the row of the source (0 = first)
    sa.Column("payload", sa.JSON, nullable=False),
    sa.UniqueConstraint("project_id", "position", name="uq_labeling_items_project_id_position"),
)

# a label is never overwritten: relabelling adds a row and marks the old one ``replaced_at``,
# and undo marks it too; at most one current label per item and annotator, so two annotators
# labelling at once both count. ``final``: a reviewer settled a disagreement.
labeling_labels = sa.Table(
    "labeling_labels", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.Integer,
              sa.ForeignKey("labeling_projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("labeling_items.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("annotator", sa.String(100), nullable=False),
    sa.Column("label", sa.String(200), nullable=True),  # null: a skip
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_labeling_labels_project_id_item_id", "project_id", "item_id"),
    sa.Index("ix_labeling_labels_current", "item_id", "annotator", unique=True,
             sqlite_where=sa.text("replaced_at IS NULL"),
             postgresql_where=sa.text("replaced_at IS NULL")),
)

# the quick model's cross-validated score each time it was refitted, for the project's curve
labeling_scores = sa.Table(
    "labeling_scores", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.Integer,
              sa.ForeignKey("labeling_projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("n_labels", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_labeling_scores_project_id_n_labels", "project_id", "n_labels"),
)


# ---- model cards: what only a person knows about a model version ---------------------------
# the package is immutable and hash-checked, so the person's text lives here; a change is a new
# row (the latest per field is current, and the history stays readable); "" clears a field
model_card_notes = sa.Table(
    "model_card_notes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("field", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("written_by", sa.String(100), nullable=True),
    sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_model_card_notes_name_version", "name", "version"),
)


# ---- federations: coordinated by the server, joined by data holders with client tokens -------
FEDERATION_STATES = ("waiting", "running", "succeeded", "failed")

federations = sa.Table(
    "federations", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("settings", sa.JSON, nullable=False),  # the FederationConfig it was created with
    sa.Column("schema", sa.JSON, nullable=False),  # the DeclaredSchema every holder encodes by
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("address", sa.String(300), nullable=True),  # the coordinator's, once it listens
    sa.Column("current_round", sa.Integer, nullable=False, server_default="0"),
    sa.Column("job_id", sa.String(32), nullable=True),  # the coordinator job
    sa.Column("run_id", sa.String(32), nullable=True),
    sa.Column("model_name", sa.String(100), nullable=True),
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(100), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(sa.column("state").in_(FEDERATION_STATES),
                       name=AS_MIGRATED("ck_federations_ck_federations_state")),
)

# who joined a federation: the client token's name, and what its data looks like (no rows)
federation_members = sa.Table(
    "federation_members", metadata,
    sa.Column("federation", sa.String(100),
              sa.ForeignKey("federations.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("client", sa.String(100), primary_key=True),
    sa.Column("summary", sa.JSON, nullable=False),  # columns and kinds, classes, row count
    sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
)
