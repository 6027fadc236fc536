"""Hot-swap and canary routing: the engines in service (the active model's and, during a canary,
the canary's) are replaced between requests when the registry changes."""

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.engine import Engine
from feedback import Store, active_model_version, canary_model_version
from feedback.models import ModelVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Serving:
    """What is in service at one moment; replaced whole, never changed in place."""

    active: Engine
    canary: Engine | None = None

    def version_ids(self) -> tuple[int | None, int | None]:
        return self.active.version_id, self.canary.version_id if self.canary else None


class ModelSlot:
    """Holds the engines in service. A request takes its engine once (`route`) and keeps it to
    the end, so a swap or a rollback never fails a request or mixes two versions in one answer.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        store: Store | None = None,
        load: Callable[[ModelVersion], Engine] | None = None,
        poll_seconds: float = 5.0,
        canary_share: float = 0.0,
    ) -> None:
        self._serving = Serving(engine)
        self._store = store
        self._load = load
        self._poll_seconds = poll_seconds
        self._canary_share = canary_share
        self._stopped = threading.Event()
        self._watcher: threading.Thread | None = None
        self._refreshing = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The active model's engine."""
        return self._serving.active

    @property
    def canary(self) -> Engine | None:
        return self._serving.canary

    def route(self, *, key: str, version_id: int | None = None) -> Engine:
        """The engine for one request. A follow-up stays with the version that wrote the answer
        it follows (`version_id`) while that version is in service; otherwise `key` (the user,
        or the conversation) decides, the same way every time: the canary serves a fixed
        share of keys."""
        serving = self._serving  # one read: the request sees one consistent state
        for engine in (serving.active, serving.canary):
            if engine is not None and version_id is not None and engine.version_id == version_id:
                return engine
        if serving.canary is not None and in_canary(
            key, serving.canary.version_id, self._canary_share
        ):
            return serving.canary
        return serving.active

    def refresh(self) -> bool:
        """Serve what the registry has in service (the active version, and the canary when
        canaries get traffic) where it differs from what is served; True on a change."""
        if self._store is None or self._load is None:
            return False
        with self._refreshing:  # the watcher and a canary check may refresh at once
            with self._store.session() as session:
                active = active_model_version(session)
                canary = canary_model_version(session) if self._canary_share > 0 else None
            serving = self._serving
            wanted = (active.id if active else None, canary.id if canary else None)
            if active is None or wanted == serving.version_ids():
                return False
            engines = {e.version_id: e for e in (serving.active, serving.canary) if e is not None}
            new_active = engines.get(active.id) or self._loaded(active)
            new_canary = canary and (engines.get(canary.id) or self._loaded(canary))
            self._serving = Serving(new_active, new_canary)  # one reference assignment
        log.info("now serving version %s, canary %s", *self._serving.version_ids())
        return True

    def watch(self) -> None:
        """Refresh every `poll_seconds` in a background thread, until `stop`."""
        if self._watcher is None and self._store is not None:
            self._watcher = threading.Thread(target=self._poll, name="model-watcher", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._watcher is not None:
            self._watcher.join()

    def _loaded(self, version: ModelVersion) -> Engine:
        log.info("loading model version %s (%s)", version.id, version.name)
        return self._load(version)  # loads while the engines in service keep serving

    def _poll(self) -> None:
        while not self._stopped.wait(self._poll_seconds):
            try:
                self.refresh()
            except Exception:
                log.exception("could not load the models in service; still serving the old ones")


def in_canary(key: str, canary_version_id: int | None, share: float) -> bool:
    """Whether `key` falls in the canary's share: a hash of the key salted with the canary's
    version, so each canary is tried on a fresh sample of users."""
    digest = hashlib.sha256(f"{canary_version_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
