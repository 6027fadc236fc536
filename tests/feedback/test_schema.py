"""The migrated schema is the models' schema, on SQLite and PostgreSQL alike."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from feedback.migrate import VERSION_TABLE, current_revision, head_revision, upgrade


def test_migrations_create_exactly_the_models_schema(store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_upgrade_records_head_and_is_idempotent(store):
    assert current_revision(store.engine) == head_revision()
    upgrade(store.engine)  # a second run changes nothing and does not fail
    assert current_revision(store.engine) == head_revision()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert VERSION_TABLE in tables
    assert "alembic_version" not in tables  # left free for tools with their own migrations


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    from feedback import make_engine

    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()
