"""The canary from settings: its plan, and the check the bot runs after every few rated
answers (the scheduler's interval check is in `tuneloop.scheduling`)."""

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from feedback import Store
from feedback.models import CanaryDecision
from trainer.canary import CanaryPlan, check
from trainer.canary_rule import Policy
from tuneloop.settings import Settings

log = logging.getLogger(__name__)


def canary_plan(settings: Settings) -> CanaryPlan:
    canary = settings.canary
    return CanaryPlan(
        policy=Policy(
            confidence=canary.confidence,
            margin=canary.margin,
            min_rated=canary.min_rated,
            guard_ceiling=canary.guard_ceiling,
        ),
        share=canary.share,
        watch=timedelta(hours=canary.watch_hours),
        expire=timedelta(hours=canary.max_hours),
        webhook_url=canary.webhook_url,
    )


def check_canary(store: Store, plan: CanaryPlan, *, trigger: str) -> CanaryDecision | None:
    """One check of the canary (or of a promoted version under watch), acted on."""
    with store.session() as session:
        decision = check(session, plan, trigger=trigger)
    if decision is not None:
        log.info("canary check (%s): %s, %s", trigger, decision.outcome.value, decision.reason)
    return decision


class CanaryTrigger:
    """Call it on every rated or withheld answer: after every `every` calls it runs `check` in a
    background thread (one at a time; calls meanwhile count toward the next), so that no
    request waits for a check, and a failed check is logged, not raised."""

    def __init__(self, check: Callable[[], object], *, every: int) -> None:
        self._check = check
        self._every = every
        self._count = 0
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def __call__(self) -> None:
        with self._lock:
            self._count += 1
            if self._count < self._every or (self._running and self._running.is_alive()):
                return
            self._count = 0
            self._running = threading.Thread(target=self._run, name="canary-check", daemon=True)
            self._running.start()

    def join(self) -> None:
        """Wait for the check under way, if any."""
        with self._lock:
            running = self._running
        if running is not None:
            running.join()

    def _run(self) -> None:
        try:
            self._check()
        except Exception:
            log.exception("the canary check failed; the next one tries again")
