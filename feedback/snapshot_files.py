"""Rewriting a dataset snapshot's files without some rows: erasure and retention use it."""

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from feedback.models import DatasetSnapshot


@dataclass
class SnapshotRows:
    """Which rows to take out: by pair id, by the answer a KTO row holds, or by a text the
    user typed appearing as a whole message or answer (rows written before ids were kept)."""

    pair_ids: set[str] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.texts = {text.strip() for text in self.texts}

    def matches(self, row: dict[str, Any]) -> bool:
        if row.get("pair_id") in self.pair_ids or row.get("message_id") in self.message_ids:
            return True
        return any(value.strip() in self.texts for value in _strings(row))


def snapshot_files(snapshot: DatasetSnapshot) -> list[Path]:
    """Every file of a snapshot: its pairs, its KTO rows, and the splits made from it."""
    path = Path(snapshot.path)
    return sorted(path.parent.glob(f"{path.stem}.*jsonl"))


def rewrite_snapshot(session: Session, snapshot: DatasetSnapshot, rows: SnapshotRows) -> int:
    """Rewrite the snapshot's files without the matching rows; return how many went.

    Each file is replaced atomically (a new file renamed over the old), and the row's counts
    and checksum follow.
    """
    removed = 0
    for path in snapshot_files(snapshot):
        lines = path.read_text().splitlines()
        kept = [line for line in lines if line.strip() and not rows.matches(json.loads(line))]
        if len(kept) == len(lines):
            continue
        removed += len(lines) - len(kept)
        _replace(path, "".join(line + "\n" for line in kept))
        if str(path) == snapshot.path:
            snapshot.pair_count = len(kept)
            snapshot.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        elif str(path) == snapshot.kto_path:
            snapshot.kto_count = len(kept)
    if removed:
        session.add(snapshot)
        session.commit()
    return removed


def delete_snapshot_files(snapshot: DatasetSnapshot) -> int:
    """Remove every file of a snapshot (retention); the row stays for the runs that used it."""
    files = snapshot_files(snapshot)
    for path in files:
        path.unlink()
    return len(files)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.rewrite")
    temporary.write_text(text)
    os.replace(temporary, path)


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
