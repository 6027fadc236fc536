"""The engine and the Store: one database URL in, sessions that can write safely out."""

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

_PSEUDONYM_KEY = "tuneloop.pseudonym_key"
BUSY_TIMEOUT_S = 30


def make_engine(url: str | sa.URL, *, echo: bool = False) -> sa.Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL, a busy timeout and foreign keys.

    Errors never quote the statement's parameters: they are users' texts, and a logged
    traceback must not carry them (erasure cannot reach every log sink).
    """
    url = sa.make_url(url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, echo=echo, hide_parameters=True, connect_args={"timeout": BUSY_TIMEOUT_S}
    )
    sa.event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable under WAL except on power loss
    cursor.execute("PRAGMA secure_delete=ON")  # deleted content is zeroed, not left in free pages
    cursor.close()


class Store:
    """The feedback store: an engine plus the key that turns user ids into pseudonyms."""

    def __init__(self, engine: sa.Engine, *, pseudonym_key: bytes) -> None:
        if len(pseudonym_key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self.engine = engine
        self._pseudonym_key = pseudonym_key

    @classmethod
    def from_url(cls, url: str | sa.URL, *, pseudonym_key: bytes, echo: bool = False) -> "Store":
        return cls(make_engine(url, echo=echo), pseudonym_key=pseudonym_key)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose writes can pseudonymize user ids; closed on exit."""
        with Session(
            self.engine, expire_on_commit=False, info={_PSEUDONYM_KEY: self._pseudonym_key}
        ) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def pseudonymize(session: Session, user_id: str) -> str:
    """The keyed hash stored in place of a user id: stable per key, not reversible without it."""
    key = session.info.get(_PSEUDONYM_KEY)
    if key is None:
        raise RuntimeError("this session has no pseudonym key: open it with Store.session()")
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:32]
