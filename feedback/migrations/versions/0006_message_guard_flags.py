"""message guard flags: answers the serving guard withheld, with what it flagged them for

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARDED = sa.text("guard_flags IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guard_flags", sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_index(
            "ix_message_guarded_created_at",
            ["created_at"],
            unique=False,
            sqlite_where=GUARDED,
            postgresql_where=GUARDED,
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_guarded_created_at")
        batch_op.drop_column("guard_flags")
