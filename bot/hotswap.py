"""Hot-swap: the engine in service is replaced, between requests, when the active model changes."""

import logging
import threading
from collections.abc import Callable

from bot.engine import Engine
from feedback import Store, active_model_version
from feedback.models import ModelVersion

log = logging.getLogger(__name__)


class ModelSlot:
    """Holds the engine in service. A request takes `slot.engine` once and keeps it to the end,
    so a swap never fails a request or mixes two versions in one answer."""

    def __init__(
        self,
        engine: Engine,
        *,
        store: Store | None = None,
        load: Callable[[ModelVersion], Engine] | None = None,
        poll_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self._store = store
        self._load = load
        self._poll_seconds = poll_seconds
        self._stopped = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    def refresh(self) -> bool:
        """Load the store's active version if it is not the one in service; True on a swap."""
        if self._store is None or self._load is None:
            return False
        with self._store.session() as session:
            active = active_model_version(session)
        if active is None or active.id == self._engine.version_id:
            return False
        log.info("loading model version %s (%s)", active.id, active.name)
        engine = self._load(active)  # loads while the old engine keeps serving
        self._engine = engine  # one reference assignment: atomic for every reader
        log.info("now serving model version %s (%s)", active.id, active.name)
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

    def _poll(self) -> None:
        while not self._stopped.wait(self._poll_seconds):
            try:
                self.refresh()
            except Exception:
                log.exception("could not load the new active model; still serving the old one")
