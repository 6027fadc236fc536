"""Writes conversations and turns from a background thread: answers never wait on the database.

While the database cannot be reached, the writer holds on to what it has and tries again,
waiting longer each time (up to `retry_max_s`): an outage delays the log, it loses nothing.
Only an entry the database refuses (a turn of an unknown conversation, say) is dropped, and
logged by its ids.
"""

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from feedback import Store, log_turns, start_conversation
from feedback.models import TurnCreate

log = logging.getLogger(__name__)


class ConversationStart(NamedTuple):
    conversation_id: uuid.UUID
    user_id: str
    client: str
    training_consent: bool


class TurnLogger:
    """Queue writes now, store them in batches shortly after; `flush` waits until they are in.

    With `score_sentiment`, user messages are stored with their sentiment, scored here, off
    the request path.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 64,
        score_sentiment: Callable[[Sequence[str]], list[float]] | None = None,
        retry_first_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self._store = store
        self._score_sentiment = score_sentiment
        self._max_batch = max_batch
        self._retry_first_s, self._retry_max_s = retry_first_s, retry_max_s
        self._closing = threading.Event()
        self._queue: queue.Queue[TurnCreate | ConversationStart | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="turn-logger", daemon=True)
        self._thread.start()

    def start_conversation(
        self, conversation_id: uuid.UUID, *, user_id: str, client: str, training_consent: bool
    ) -> None:
        """Queue a new conversation; `training_consent` says whether it may train the bot."""
        self._queue.put(ConversationStart(conversation_id, user_id, client, training_consent))

    def log(self, turn: TurnCreate) -> None:
        self._queue.put(turn)

    def flush(self) -> None:
        """Return once everything queued before this call is stored (or was refused); while
        the database is down, that is once it is back."""
        self._queue.join()

    def close(self) -> None:
        """Store what is queued and stop. If the database is down, each batch left gets one
        more try and is then logged (by ids) as lost: shutting down must not hang."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            entries = [entry for entry in batch if entry is not None]
            if entries:
                self._write_when_reachable(entries)
            for _ in batch:
                self._queue.task_done()
            if len(entries) < len(batch):
                return

    def _add_sentiment(self, turns: list[TurnCreate]) -> None:
        unscored = [t for t in turns if t.prompt is not None and t.prompt_sentiment is None]
        if self._score_sentiment is None or not unscored:
            return
        try:
            scores = self._score_sentiment([turn.prompt for turn in unscored])
        except Exception:
            log.exception("could not score the sentiment of %d user messages", len(unscored))
            return
        for turn, score in zip(unscored, scores, strict=True):
            turn.prompt_sentiment = score

    def _write_when_reachable(self, batch: list[TurnCreate | ConversationStart]) -> None:
        self._add_sentiment([entry for entry in batch if isinstance(entry, TurnCreate)])
        delay = self._retry_first_s
        while True:
            try:
                self._write(batch)
                return
            except sa.exc.DBAPIError as error:
                if self._closing.is_set():
                    for entry in batch:
                        log.error("database unreachable at shutdown: lost %s", _describe(entry))
                    return
                log.warning(
                    "database unreachable (%s): %d entries wait, next try in %.1f s",
                    type(error.orig).__name__,
                    len(batch),
                    delay,
                )
                self._closing.wait(delay)
                delay = min(2 * delay, self._retry_max_s)

    def _write(self, batch: list[TurnCreate | ConversationStart]) -> None:
        """Store `batch`; an entry the database refuses is logged and dropped. Raises
        `DBAPIError` while the database cannot be reached (all of it may be tried again: both
        writes are idempotent, so what went in already is not doubled)."""
        with self._store.session() as session:
            try:
                for entry in batch:
                    if isinstance(entry, ConversationStart):
                        _write_entry(session, entry)
                log_turns(session, [entry for entry in batch if isinstance(entry, TurnCreate)])
            except Exception as error:
                session.rollback()
                if _unreachable(error):
                    raise
                # One bad entry must not take the batch down with it: write them one by one.
                for entry in batch:
                    try:
                        _write_entry(session, entry)
                    except Exception as error:
                        session.rollback()
                        if _unreachable(error):
                            raise
                        log.exception("could not log %s", _describe(entry))


def _unreachable(error: Exception) -> bool:
    """The database is down, or busy past its timeout, rather than refusing the data."""
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError) or (
        isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated
    )


def _write_entry(session: Session, entry: TurnCreate | ConversationStart) -> None:
    if isinstance(entry, TurnCreate):
        log_turns(session, [entry])
    else:
        start_conversation(session, **entry._asdict())


def _describe(entry: TurnCreate | ConversationStart) -> str:
    """Ids only: logs must hold no user's text or id (erasure cannot reach every log sink)."""
    if isinstance(entry, TurnCreate):
        return f"the turn {entry.answer_id} of conversation {entry.conversation_id}"
    return f"the start of conversation {entry.conversation_id}"
