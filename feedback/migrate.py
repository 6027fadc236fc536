"""Schema migrations with Alembic, driven from code: upgrade, current and head revisions."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from feedback.errors import SchemaOutOfDate

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Not Alembic's default name: other tools (Optuna) keep their own `alembic_version`.
VERSION_TABLE = "tuneloop_alembic_version"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`; a no-op when it is there already."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def require_current_schema(engine: sa.Engine) -> None:
    """Fail fast, with the fix in the message, when the database lags behind the code."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing'}, this code needs {head}: "
            "run `tuneloop db upgrade`"
        )


def autogenerate(engine: sa.Engine, message: str) -> None:
    """Write a new migration from the difference between the models and `engine`'s schema."""
    with engine.connect() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
