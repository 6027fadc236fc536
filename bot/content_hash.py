"""Content hashes of model files and directories (sha256), remembered by path, size and mtime so
an unchanged file is read once."""

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

HASHES = "hashes.json"
_CHUNK = 4 << 20


def file_sha256(path: Path, *, cache_dir: Path) -> str:
    """The file's sha256 (hex), read in chunks under a progress bar; remembered by path, size
    and mtime in `cache_dir`, so an unchanged file is read once."""
    with _progress(path.stat().st_size, path.name) as bar:
        return _sha256(path, cache_dir, bar.update)


def directory_sha256(source: Path, files: list[Path], *, cache_dir: Path) -> str:
    """One sha256 over the relative names and contents of a directory's `files`."""
    with _progress(sum(file.stat().st_size for file in files), source.name) as bar:
        listing = "".join(
            f"{file.relative_to(source).as_posix()}\t{_sha256(file, cache_dir, bar.update)}\n"
            for file in files
        )
    return hashlib.sha256(listing.encode()).hexdigest()


def _sha256(path: Path, cache_dir: Path, advance: Callable[[int], object]) -> str:
    stat = path.stat()
    key = str(path.resolve())
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    remembered = _read_json(cache_dir / HASHES).get(key, {})
    if all(remembered.get(k) == v for k, v in stamp.items()):
        advance(stat.st_size)
        return remembered["sha256"]
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            advance(len(chunk))
    known = _read_json(cache_dir / HASHES)  # another import may have added some meanwhile
    known[key] = {**stamp, "sha256": digest.hexdigest()}
    _write_json(cache_dir / HASHES, known)
    return digest.hexdigest()


def _progress(total: int, name: str) -> tqdm:
    return tqdm(total=total, unit="B", unit_scale=True, desc=f"sha256 {name}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    draft.write_text(json.dumps(data, indent=1))
    draft.replace(path)
