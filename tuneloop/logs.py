"""Log files in the data directory, and scrubbing a forgotten user out of them."""

import json
import logging
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILE = "tuneloop.log"
MAX_BYTES = 10 * 2**20
BACKUPS = 5
_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"


def log_to_file(directory: Path, *, level: int = logging.INFO) -> Path:
    """Also write this process's log records (`level` and up) to `directory`/tuneloop.log,
    rotated at 10 MiB with 5 old files kept. Calling it twice adds one handler."""
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / LOG_FILE).resolve()
    root = logging.getLogger()
    if not any(getattr(handler, "baseFilename", None) == str(path) for handler in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.setLevel(level)
        root.addHandler(handler)
        root.setLevel(min(root.level, level) if root.level else level)
    return path


def log_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob(f"{LOG_FILE}*") if path.is_file())


def scrub_logs(directory: Path, needles: Iterable[str]) -> int:
    """Remove every log line that holds one of `needles` (as written, or escaped the way %r and
    JSON write it); return how many lines went. Files are rewritten in place, so a process
    appending to one keeps appending to the same file."""
    forms = {form for needle in needles if needle for form in _written_forms(needle)}
    removed = 0
    for path in log_files(directory):
        with path.open("r+", encoding="utf-8", errors="surrogateescape") as file:
            lines = file.readlines()
            kept = [line for line in lines if not any(form in line for form in forms)]
            if len(kept) == len(lines):
                continue
            file.seek(0)
            file.writelines(kept)
            file.truncate()
            removed += len(lines) - len(kept)
    return removed


def _written_forms(text: str) -> set[str]:
    """`text` as a log line may hold it: raw, %r-escaped, JSON-escaped; a text of several lines
    also by each of its longer lines (a raw multi-line message spans log lines)."""
    forms = {text, repr(text)[1:-1], json.dumps(text)[1:-1]}
    forms |= {line for line in text.splitlines() if len(line.strip()) >= 8}
    return {form for form in forms if form.strip()}
