"""Opens the feedback store from settings, with the key that pseudonymizes user ids."""

import contextlib
import os
import secrets
from pathlib import Path

from feedback import Store
from tuneloop.settings import Settings

PSEUDONYM_KEY_FILE = "pseudonym.key"


def open_store(settings: Settings) -> Store:
    return Store.from_url(
        settings.database_url,
        pseudonym_key=pseudonym_key(settings),
        echo=settings.store.echo_sql,
    )


def pseudonym_key(settings: Settings) -> bytes:
    """The configured key, else the one kept in the data directory (made on first use)."""
    if settings.store.pseudonym_key is not None:
        return settings.store.pseudonym_key.get_secret_value().encode()
    path = settings.data_dir / PSEUDONYM_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.draft")
        draft.touch(mode=0o600)
        draft.write_text(secrets.token_hex(32))
        # link() creates the name only if nobody else did first: every process reads one key.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"{path} is empty: delete it to make a new key, or restore the old one")
    return key.encode()
