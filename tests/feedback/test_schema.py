"""The migrated schema is the models' schema, on SQLite and PostgreSQL alike."""

import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from feedback.migrate import (
    FOREIGN_TABLES,
    VERSION_TABLE,
    current_revision,
    head_revision,
    include_name,
    upgrade,
)


def schema_differences(engine: sa.Engine) -> list:
    """What autogenerate would write, with the filter the migrations use."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "version_table": VERSION_TABLE,
                "include_name": include_name,
            },
        )
        return compare_metadata(context, SQLModel.metadata)


def test_migrations_create_exactly_the_models_schema(store):
    assert schema_differences(store.engine) == []


def test_optuna_studies_in_the_same_database_are_not_ours_to_migrate(store):
    """`tuneloop tune` keeps its studies in the store's database, in Optuna's own tables."""
    from optuna.storages import RDBStorage

    RDBStorage(store.engine.url.render_as_string(hide_password=False))  # creates its tables
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"studies", "trials", "alembic_version"} <= tables
    assert tables - set(SQLModel.metadata.tables) - {VERSION_TABLE} <= FOREIGN_TABLES
    assert schema_differences(store.engine) == []
    assert current_revision(store.engine) == head_revision()  # not Optuna's alembic_version


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


def test_the_prompt_key_migration_backfills_existing_user_messages(database_url):
    """Rows written under revision 0001 get their key when 0002 runs."""
    from feedback import Store, log_turn, make_engine, start_conversation
    from feedback.models import Message, Role
    from feedback.normalize import prompt_key
    from tests.conftest import PSEUDONYM_KEY

    store = Store(make_engine(database_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine, "0001")
    with store.engine.begin() as connection:  # a row as revision 0001 wrote it: no prompt_key
        conversation_id, message_id = uuid.uuid4(), uuid.uuid4()
        connection.execute(
            sa.text(
                "INSERT INTO conversation (id, user_pseudonym, client, training_consent,"
                " created_at) VALUES (:id, 'u', 'api', true, CURRENT_TIMESTAMP)"
            ),
            {"id": _uuid_param(store, conversation_id)},
        )
        connection.execute(
            sa.text(
                "INSERT INTO message (id, conversation_id, role, content, created_at)"
                " VALUES (:id, :conversation, 'user', 'Where is my ORDER?!', CURRENT_TIMESTAMP)"
            ),
            {
                "id": _uuid_param(store, message_id),
                "conversation": _uuid_param(store, conversation_id),
            },
        )
    upgrade(store.engine)
    with store.session() as session:
        message = session.get(Message, message_id)
        assert message.prompt_key == prompt_key("where is my order")
        conversation = start_conversation(session, user_id="u")
        question, _ = log_turn(
            session, conversation_id=conversation.id, prompt="Where is my order", answer="Soon."
        )
        assert question.role == Role.user and question.prompt_key == message.prompt_key
    store.dispose()


def _uuid_param(store, value):
    """UUIDs as each database stores them: 32 hex characters in SQLite, native in PostgreSQL."""
    return value.hex if store.engine.dialect.name == "sqlite" else value
