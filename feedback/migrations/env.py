"""Alembic environment: runs on the connection that feedback.migrate hands over."""

from alembic import context
from sqlmodel import SQLModel

import feedback.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from feedback.migrate import VERSION_TABLE, include_name

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `tuneloop db upgrade` (feedback.migrate)")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,  # other tools' tables in the same database are not ours
    render_as_batch=True,  # SQLite can only ALTER by copying the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
