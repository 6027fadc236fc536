"""message prompt key: find the same question across conversations (backfilled)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from feedback.normalize import prompt_key

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("prompt_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_message_prompt_key"), ["prompt_key"], unique=False)

    message = sa.table(
        "message",
        sa.column("id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("content", sa.Text()),
        sa.column("prompt_key", sa.String()),
    )
    connection = op.get_bind()
    user_messages = connection.execute(
        sa.select(message.c.id, message.c.content).where(message.c.role == "user")
    ).all()
    if user_messages:
        connection.execute(
            sa.update(message)
            .where(message.c.id == sa.bindparam("message_id"))
            .values(prompt_key=sa.bindparam("key")),
            [{"message_id": id_, "key": prompt_key(content)} for id_, content in user_messages],
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_prompt_key"))
        batch_op.drop_column("prompt_key")
