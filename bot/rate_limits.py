"""Limits per pseudonymous user: chat requests per minute (in memory, per replica) and feedback
events per 24 hours (counted in the store, so across replicas)."""

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import Session, col, func, select

from feedback import Store, pseudonymize
from feedback.columns import utcnow
from feedback.models import FeedbackEvent

FEEDBACK_WINDOW = timedelta(hours=24)
log = logging.getLogger(__name__)


class RateLimited(Exception):
    """A user is over a limit; `retry_after` is the whole seconds until a request fits again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SlidingWindow:
    """At most `limit` events per `seconds` for each key; thread-safe, in this process only."""

    def __init__(
        self, limit: int, seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._sweep_above = 1024

    def admit(self, key: str) -> float:
        """Count an event for `key` and return 0; or, when the window is full, count nothing
        and return the seconds until its oldest event leaves it."""
        now = self._clock()
        with self._lock:
            times = self._times.setdefault(key, deque())
            while times and times[0] <= now - self.seconds:
                times.popleft()
            if len(times) >= self.limit:
                return times[0] + self.seconds - now
            times.append(now)
            if len(self._times) > self._sweep_above:
                self._sweep(now)
            return 0.0

    def _sweep(self, now: float) -> None:
        """Forget the keys with no event in the window (users who left)."""
        self._times = {k: t for k, t in self._times.items() if t and t[-1] > now - self.seconds}
        self._sweep_above = max(1024, 2 * len(self._times))


class RateLimits:
    """The bot's limits per user; a limit of None is off. Users are keyed by pseudonym, so
    neither memory nor the log holds their ids."""

    def __init__(
        self,
        store: Store,
        *,
        chat_requests_per_minute: int | None = None,
        feedback_events_per_day: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._chat = (
            SlidingWindow(chat_requests_per_minute, 60, clock=clock)
            if chat_requests_per_minute is not None
            else None
        )
        self._feedback_per_day = feedback_events_per_day

    def admit_chat(self, user_id: str) -> None:
        """Count one chat or regenerate request of `user_id`; raise `RateLimited` when the
        last minute already holds the limit's worth (the refused request is not counted)."""
        if self._chat is None:
            return
        with self._store.session() as session:
            pseudonym = pseudonymize(session, user_id)  # a keyed hash: no database round trip
        if wait := self._chat.admit(pseudonym):
            raise _refusal(pseudonym, f"at most {self._chat.limit} chat requests per minute", wait)

    def admit_feedback(
        self, session: Session, *, user_id: str, idempotency_key: str | None = None
    ) -> None:
        """Raise `RateLimited` when `user_id` has sent the limit's worth of feedback events in
        the last 24 hours, on any replica. The retry of a stored event (its idempotency key is
        in the store) passes: it stores nothing new."""
        limit = self._feedback_per_day
        if limit is None or (idempotency_key and _stored_key(session, idempotency_key)):
            return
        pseudonym = pseudonymize(session, user_id)
        recent = select(FeedbackEvent.created_at).where(
            FeedbackEvent.user_pseudonym == pseudonym,
            FeedbackEvent.created_at > utcnow() - FEEDBACK_WINDOW,
        )
        count = session.exec(select(func.count()).select_from(recent.subquery())).one()
        if count < limit:
            return
        # Concurrent requests may each see room for one more: the cap can be overshot by
        # the number of requests in flight at once, never by more.
        frees = session.exec(
            recent.order_by(col(FeedbackEvent.created_at)).offset(count - limit).limit(1)
        ).one()
        wait = (frees + FEEDBACK_WINDOW - utcnow()).total_seconds()
        raise _refusal(pseudonym, f"at most {limit} feedback events per 24 hours", wait)


def _stored_key(session: Session, idempotency_key: str) -> bool:
    query = select(FeedbackEvent.id).where(FeedbackEvent.idempotency_key == idempotency_key)
    return session.exec(query.limit(1)).first() is not None


def _refusal(pseudonym: str, limit: str, wait: float) -> RateLimited:
    retry_after = max(1, math.ceil(wait))
    log.warning("refused user %s: over %s; retry in %d s", pseudonym, limit, retry_after)
    return RateLimited(
        f"too many requests: {limit} per user; retry in {retry_after} s", retry_after=retry_after
    )
