"""training profiles: tuned hyperparameter sets, and the ones each training run used

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import feedback.columns

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "training_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("study_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("dataset", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("objective", sa.Float(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("created_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_profile")),
        sa.UniqueConstraint("name", name=op.f("uq_training_profile_name")),
    )
    with op.batch_alter_table("training_profile", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_profile_created_at"), ["created_at"], unique=False
        )
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("hyperparameters", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("training_run", schema=None) as batch_op:
        batch_op.drop_column("hyperparameters")
        batch_op.drop_column("profile")
    with op.batch_alter_table("training_profile", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_profile_created_at"))
    op.drop_table("training_profile")
