"""dashboard rollups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import feedback.columns

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_quality",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("ups", sa.Integer(), nullable=False),
        sa.Column("thumbs", sa.Integer(), nullable=False),
        sa.Column("stars_sum", sa.Integer(), nullable=False),
        sa.Column("stars_n", sa.Integer(), nullable=False),
        sa.Column("regenerates", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "model_version_id", name=op.f("pk_daily_quality")),
    )
    op.create_table(
        "rater_trust",
        sa.Column("user_pseudonym", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("disagreement", sa.Float(), nullable=True),
        sa.Column("toxic_reward_share", sa.Float(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("reasons", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("computed_at", feedback.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_pseudonym", name=op.f("pk_rater_trust")),
    )
    with op.batch_alter_table("rater_trust", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rater_trust_weight"), ["weight"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rater_trust", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rater_trust_weight"))

    op.drop_table("rater_trust")
    op.drop_table("daily_quality")
