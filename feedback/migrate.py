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
# Tables other tools keep in the same database, which autogenerate must neither drop nor
# compare: Optuna's RDB storage (`tuneloop tune` keeps its studies in the store's database).
FOREIGN_TABLES = frozenset(
    {
        "alembic_version",
        "studies",
        "study_directions",
        "study_system_attributes",
        "study_user_attributes",
        "trial_heartbeats",
        "trial_intermediate_values",
        "trial_params",
        "trial_system_attributes",
        "trial_user_attributes",
        "trial_values",
        "trials",
        "version_info",
    }
)


def include_name(name: str | None, type_: str, _parent_names: dict) -> bool:
    """Alembic's filter for reflected names: everything but the foreign tables."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


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
