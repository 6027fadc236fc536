"""canary: the canary status of models and runs, at most one canary, the canary's decisions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import feedback.columns

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODEL_CHECK = "ck_model_version_modelstatus"
MODEL_STATUSES = ("candidate", "active", "retired", "rejected")
RUN_CHECK = "ck_training_run_runstatus"
RUN_STATUSES = ("running", "promoted", "rejected", "failed", "skipped")


def upgrade() -> None:
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(RUN_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(RUN_CHECK), _status_in(*RUN_STATUSES, "canary"))
    with op.batch_alter_table("model_version", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(MODEL_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(MODEL_CHECK), _status_in(*MODEL_STATUSES, "canary"))
        batch_op.create_index(
            "uq_model_version_one_canary",
            ["status"],
            unique=True,
            sqlite_where=sa.text("status = 'canary'"),
            postgresql_where=sa.text("status = 'canary'"),
        )
    op.create_table(
        "canary_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("baseline_version_id", sa.Integer(), nullable=True),
        sa.Column(
            "phase",
            sa.Enum(
                "canary", "watch", name="canaryphase", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "start",
                "wait",
                "promote",
                "rollback",
                "keep",
                name="canaryoutcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.Column("trigger", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["baseline_version_id"],
            ["model_version.id"],
            name=op.f("fk_canary_decision_baseline_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_version.id"],
            name=op.f("fk_canary_decision_version_id_model_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canary_decision")),
    )
    with op.batch_alter_table("canary_decision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_canary_decision_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_canary_decision_version_id_created_at"),
            ["version_id", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("canary_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_canary_decision_version_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_canary_decision_created_at"))
    op.drop_table("canary_decision")
    # The old schema has no canary: a canary model goes back to candidate, a canary run counts
    # as promoted (it passed its gates).
    op.execute("UPDATE model_version SET status = 'candidate' WHERE status = 'canary'")
    op.execute("UPDATE training_run SET status = 'promoted' WHERE status = 'canary'")
    with op.batch_alter_table("model_version", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_model_version_one_canary",
            sqlite_where=sa.text("status = 'canary'"),
            postgresql_where=sa.text("status = 'canary'"),
        )
        batch_op.drop_constraint(op.f(MODEL_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(MODEL_CHECK), _status_in(*MODEL_STATUSES))
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(RUN_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(RUN_CHECK), _status_in(*RUN_STATUSES))


def _status_in(*statuses: str) -> str:
    return "status IN (" + ", ".join(f"'{status}'" for status in statuses) + ")"
