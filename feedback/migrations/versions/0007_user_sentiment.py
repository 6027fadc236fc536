"""user sentiment: the sentiment of user messages, and its daily sums per model version

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sentiment", sa.Float(), nullable=True))
    with op.batch_alter_table("daily_quality", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("user_messages", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("sentiment_sum", sa.Float(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("daily_quality", schema=None) as batch_op:
        batch_op.drop_column("sentiment_sum")
        batch_op.drop_column("user_messages")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("sentiment")
