"""Imports a pretrained model into the data directory's model cache (a GGUF file dequantized once,
or a Hugging Face directory copied), keyed by its content hash, and registers it as a version."""

import contextlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.content_hash import directory_sha256, file_sha256
from bot.import_errors import UnsupportedModel
from bot.packaged_bases import PackagedBase, check_against_record, find_base
from feedback import activate, active_model_version, list_versions, register_model_version
from feedback.models import ModelVersion

log = logging.getLogger(__name__)

MANIFEST = "tuneloop-import.json"  # written last: a cache entry without it is not one


@dataclass(frozen=True)
class ImportedModel:
    name: str  # the version name it registers under
    path: Path  # the cache entry, a Hugging Face directory
    origin: dict[str, Any]
    cached: bool  # True when an earlier import had made it already
    seconds: dict[str, float] = field(default_factory=dict)  # per step


class Steps:
    """Names each step of an import as it starts (for the CLI to show) and times it."""

    def __init__(self, on_step: Callable[[str], None] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._on_step = on_step

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        log.info("import: %s", name)
        if self._on_step is not None:
            self._on_step(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - started


def import_base(
    name: str, *, cache_dir: Path, on_step: Callable[[str], None] | None = None
) -> ImportedModel:
    """Import a known base model from the package that ships it (see `BASES`)."""
    path, base = find_base(name)
    return import_gguf(path, cache_dir=cache_dir, base=base, on_step=on_step)


def import_gguf(
    path: Path,
    *,
    cache_dir: Path,
    base: PackagedBase | None = None,
    on_step: Callable[[str], None] | None = None,
) -> ImportedModel:
    """Dequantize a GGUF file into a float32 Hugging Face directory in `cache_dir`, once per
    file content. `base`: the packaged base model the file is (checked against its package's
    record of the file, named in the origin)."""
    if not path.is_file():
        raise FileNotFoundError(f"no GGUF file at {path}")
    steps = Steps(on_step)
    with steps("hashing"):
        digest = file_sha256(path, cache_dir=cache_dir)
    provenance: dict[str, Any] = {"location": str(path.resolve())}
    if base is not None:
        check_against_record(digest, base)
        provenance |= {
            "base": base.name,
            "package": base.package,
            "package_version": importlib.metadata.version(base.package),
        }

    def convert(destination: Path) -> dict[str, Any]:
        from bot.model_convert import convert_gguf  # torch: a cache hit need not import it

        return convert_gguf(path, destination, steps=steps)

    facts = {"kind": "import", "source": "gguf", "file": path.name, "sha256": digest}
    return _into_cache(
        cache_dir,
        name=f"{_slug(path.stem)}-{digest[:8]}",
        facts=facts,
        provenance=provenance,
        build=convert,
        steps=steps,
    )


def import_directory(
    source: Path, *, cache_dir: Path, on_step: Callable[[str], None] | None = None
) -> ImportedModel:
    """Copy a Hugging Face causal LM directory into `cache_dir`, once per content, checking that
    it loads as the bot loads models."""
    if not source.is_dir():
        raise FileNotFoundError(f"no model directory at {source}")
    if not (source / "config.json").is_file():
        raise UnsupportedModel(
            f"{source} has no config.json: give a Hugging Face model directory "
            "(config.json, weights and tokenizer files, as save_pretrained writes them)"
        )
    steps = Steps(on_step)
    files = _model_files(source)
    with steps("hashing"):
        digest = directory_sha256(source, files, cache_dir=cache_dir)

    def copy(destination: Path) -> dict[str, Any]:
        from bot.model_convert import copy_directory  # torch: a cache hit need not import it

        return copy_directory(source, files, destination, steps=steps)

    facts = {"kind": "import", "source": "directory", "file": source.name, "sha256": digest}
    return _into_cache(
        cache_dir,
        name=f"{_slug(source.name)}-{digest[:8]}",
        facts=facts,
        provenance={"location": str(source.resolve())},
        build=copy,
        steps=steps,
    )


def register_import(
    session: Session, imported: ImportedModel, *, make_active: bool | None = None
) -> tuple[ModelVersion, bool]:
    """The version row of an imported model, added if new (True); `make_active` None activates
    it only when no model is active yet, so an import never swaps a serving bot's model
    unless asked to."""
    path = str(imported.path.resolve())
    version = next((v for v in list_versions(session) if v.path == path), None)
    added = version is None
    if version is None:
        version = register_model_version(
            session, name=imported.name, path=path, origin=imported.origin
        )
    if make_active or (make_active is None and active_model_version(session) is None):
        version = activate(session, version.id)
    return version, added


def _into_cache(
    cache_dir: Path,
    *,
    name: str,
    facts: dict[str, Any],
    provenance: dict[str, Any],
    build: Callable[[Path], dict[str, Any]],
    steps: Steps,
) -> ImportedModel:
    """The cache entry for `facts["sha256"]`, built first if missing: into a hidden draft
    directory, renamed into place only once complete, so a crash never leaves an entry."""
    target = cache_dir / facts["sha256"][:16]
    manifest = target / MANIFEST
    if manifest.is_file():
        stored = json.loads(manifest.read_text())
        return ImportedModel(
            name=stored["name"],
            path=target,
            origin={**stored["origin"], **provenance},
            cached=True,
            seconds=steps.seconds,
        )
    _remove_abandoned_drafts(cache_dir, target.name)
    draft = cache_dir / f".{target.name}.{os.getpid()}.draft"
    shutil.rmtree(draft, ignore_errors=True)
    draft.mkdir(parents=True)
    try:
        origin = {**facts, **build(draft)}
        (draft / MANIFEST).write_text(json.dumps({"name": name, "origin": origin}, indent=2))
        try:
            draft.rename(target)
        except OSError:  # another import finished the same file first: keep theirs
            if not (target / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(draft, ignore_errors=True)
    return ImportedModel(
        name=name,
        path=target,
        origin={**origin, **provenance},
        cached=False,
        seconds=steps.seconds,
    )


def _remove_abandoned_drafts(cache_dir: Path, key: str) -> None:
    """Delete drafts of `key` left by processes that died mid-import."""
    for draft in cache_dir.glob(f".{key}.*.draft"):
        try:
            os.kill(int(draft.name.split(".")[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(draft, ignore_errors=True)
        except (PermissionError, ValueError):  # alive but someone else's, or not our name
            pass


def _model_files(source: Path) -> list[Path]:
    """The files a model directory consists of: hidden ones (.git, hub caches) left out."""
    return sorted(
        path
        for path in source.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(source).parts)
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")[:100] or "model"
