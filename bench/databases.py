"""The benchmarks' databases: a temporary SQLite file and a throw-away PostgreSQL schema."""

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def benchmark_databases(postgres: str = DEFAULT_POSTGRES) -> Iterator[list[tuple[str, str]]]:
    """(name, URL) of each database to measure; both are removed afterwards."""
    schema = f"tuneloop_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with tempfile.TemporaryDirectory() as directory, admin.connect() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
        in_schema = sa.make_url(postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield [
                ("SQLite (WAL)", f"sqlite:///{directory}/bench.db"),
                ("PostgreSQL", in_schema.render_as_string(hide_password=False)),
            ]
        finally:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
