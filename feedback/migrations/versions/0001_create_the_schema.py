"""create the schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import feedback.columns

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_pseudonym", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("training_consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conversation_user_pseudonym"), ["user_pseudonym"], unique=False
        )

    op.create_table(
        "dataset_snapshot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("pair_count", sa.Integer(), nullable=False),
        sa.Column("kto_path", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("kto_count", sa.Integer(), nullable=False),
        sa.Column("feedback_until", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_snapshot")),
    )
    with op.batch_alter_table("dataset_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_snapshot_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "model_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("adapter_path", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "candidate",
                "active",
                "retired",
                "rejected",
                name="modelstatus",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", feedback.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["model_version.id"],
            name=op.f("fk_model_version_parent_id_model_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_version")),
        sa.UniqueConstraint("name", name=op.f("uq_model_version_name")),
    )
    with op.batch_alter_table("model_version", schema=None) as batch_op:
        batch_op.create_index(
            "uq_model_version_one_active",
            ["status"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "system",
                "user",
                "assistant",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("sampling", sa.JSON(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_message_conversation_id_conversation"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_message_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["message.id"], name=op.f("fk_message_parent_id_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_conversation_id_created_at"),
            ["conversation_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_message_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_message_model_version_id_created_at"),
            ["model_version_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_message_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "training_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "promoted",
                "rejected",
                "failed",
                "skipped",
                name="runstatus",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("trigger", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("snapshot_id", sa.Uuid(), nullable=True),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("candidate_version_id", sa.Integer(), nullable=True),
        sa.Column("scorer", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("gate_report", sa.JSON(), nullable=False),
        sa.Column("eval_report", sa.JSON(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", feedback.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["base_version_id"],
            ["model_version.id"],
            name=op.f("fk_training_run_base_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["candidate_version_id"],
            ["model_version.id"],
            name=op.f("fk_training_run_candidate_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["dataset_snapshot.id"],
            name=op.f("fk_training_run_snapshot_id_dataset_snapshot"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_run")),
    )
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_run_started_at"), ["started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_training_run_status"), ["status"], unique=False)

    op.create_table(
        "feedback_event",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "thumbs",
                "stars",
                "regenerate",
                "correction",
                "flag",
                name="feedbackkind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_pseudonym", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'thumbs' AND value IN (-1, 1)) OR (kind = 'stars' AND value BETWEEN 1 AND 5) OR (kind IN ('regenerate', 'correction', 'flag') AND value IS NULL)",
            name=op.f("ck_feedback_event_value_fits_kind"),
        ),
        sa.CheckConstraint(
            "kind NOT IN ('correction', 'flag') OR length(trim(text)) > 0",
            name=op.f("ck_feedback_event_text_fits_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name=op.f("fk_feedback_event_message_id_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_event")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_feedback_event_idempotency_key")),
    )
    with op.batch_alter_table("feedback_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_event_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_event_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_event_user_pseudonym"), ["user_pseudonym"], unique=False
        )

    op.create_table(
        "preference_pair",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("snapshot_id", sa.Uuid(), nullable=True),
        sa.Column(
            "strategy",
            sa.Enum(
                "correction",
                "regeneration",
                "same_prompt",
                name="pairstrategy",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("prompt", sa.JSON(), nullable=False),
        sa.Column("chosen", sa.Text(), nullable=False),
        sa.Column("rejected", sa.Text(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("chosen_message_id", sa.Uuid(), nullable=True),
        sa.Column("rejected_message_id", sa.Uuid(), nullable=True),
        sa.Column("feedback_ids", sa.JSON(), nullable=False),
        sa.Column(
            "verdict",
            sa.Enum(
                "pending",
                "kept",
                "dropped",
                name="gateverdict",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("drop_reason", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chosen_message_id"],
            ["message.id"],
            name=op.f("fk_preference_pair_chosen_message_id_message"),
        ),
        sa.ForeignKeyConstraint(
            ["rejected_message_id"],
            ["message.id"],
            name=op.f("fk_preference_pair_rejected_message_id_message"),
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["dataset_snapshot.id"],
            name=op.f("fk_preference_pair_snapshot_id_dataset_snapshot"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_pair")),
    )
    with op.batch_alter_table("preference_pair", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_preference_pair_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_preference_pair_snapshot_id"), ["snapshot_id"], unique=False
        )

    op.create_table(
        "operator_review",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("feedback_id", sa.Uuid(), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "exclude",
                "approve",
                "correct",
                name="reviewaction",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("corrected_text", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action != 'correct' OR length(trim(corrected_text)) > 0",
            name=op.f("ck_operator_review_correction_has_text"),
        ),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback_event.id"],
            name=op.f("fk_operator_review_feedback_id_feedback_event"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name=op.f("fk_operator_review_message_id_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_review")),
    )
    with op.batch_alter_table("operator_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_review_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_operator_review_feedback_id"), ["feedback_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_operator_review_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("operator_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_review_message_id"))
        batch_op.drop_index(batch_op.f("ix_operator_review_feedback_id"))
        batch_op.drop_index(batch_op.f("ix_operator_review_created_at"))

    op.drop_table("operator_review")
    with op.batch_alter_table("preference_pair", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preference_pair_snapshot_id"))
        batch_op.drop_index(batch_op.f("ix_preference_pair_created_at"))

    op.drop_table("preference_pair")
    with op.batch_alter_table("feedback_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_event_user_pseudonym"))
        batch_op.drop_index(batch_op.f("ix_feedback_event_message_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_event_created_at"))

    op.drop_table("feedback_event")
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_run_status"))
        batch_op.drop_index(batch_op.f("ix_training_run_started_at"))

    op.drop_table("training_run")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_parent_id"))
        batch_op.drop_index(batch_op.f("ix_message_model_version_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_message_created_at"))
        batch_op.drop_index(batch_op.f("ix_message_conversation_id_created_at"))

    op.drop_table("message")
    with op.batch_alter_table("model_version", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_model_version_one_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.drop_table("model_version")
    with op.batch_alter_table("dataset_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_snapshot_created_at"))

    op.drop_table("dataset_snapshot")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_user_pseudonym"))
        batch_op.drop_index(batch_op.f("ix_conversation_created_at"))

    op.drop_table("conversation")
