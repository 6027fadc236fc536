"""The TOML settings file, changed one value at a time: comments and layout kept (tomlkit), the
result validated as Settings before anything is written."""

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import tomlkit
from pydantic import SecretStr, ValidationError
from pydantic_core import to_jsonable_python
from pydantic_settings import PydanticBaseSettingsSource, TomlConfigSettingsSource
from tomlkit.exceptions import ConvertError, ParseError
from tomlkit.items import Item
from tomlkit.toml_document import TOMLDocument

from tuneloop.settings import Settings, describe_settings

MASK = "********"


class InvalidSetting(ValueError):
    """A change names no setting, or would leave the file invalid."""


@dataclass(frozen=True)
class FileSetting:
    """One setting as a process started now would read it; secrets masked."""

    key: str
    env_var: str
    value: str
    source: str  # environment, file or default
    description: str


@dataclass(frozen=True)
class SettingChange:
    """One key's text in the file before and after (None: not in the file); secrets masked."""

    key: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class SettingsFile:
    """The settings file at `path`, as the dashboard's settings page reads and changes it."""

    path: Path

    def settings(self) -> list[FileSetting]:
        return list_settings(self.path)

    def change(self, key: str, text: str | None) -> SettingChange:
        return change_setting(self.path, key, text)


def list_settings(path: Path) -> list[FileSetting]:
    """Every setting with the value the environment and the file at `path` give it."""
    document = read_document(path)
    try:
        settings = _load(path)
    except ValidationError as exc:
        raise InvalidSetting(f"the settings are invalid now: {_problems(exc)}") from exc
    secret = _secret_keys()
    rows = []
    for doc in describe_settings(settings):
        if _set_in_environment(doc.env_var):
            source = "environment"
        else:
            source = "file" if _lookup(document, doc.key) is not None else "default"
        value = MASK if doc.key in secret and doc.value else _literal(doc.value)
        rows.append(FileSetting(doc.key, doc.env_var, value, source, doc.description))
    return rows


def change_setting(path: Path, key: str, text: str | None) -> SettingChange:
    """Set `key` to the TOML value `text` (None removes the key: back to the default) in the
    file at `path`, if the file stays valid Settings; else raise InvalidSetting."""
    if key not in _annotations():
        raise InvalidSetting(f"there is no setting named {key!r}")
    document = read_document(path)
    old = _lookup(document, key)
    if text is None:
        if old is None:
            raise InvalidSetting(f"{key} is not in {path}: it has its default already")
        _remove(document, key)
    else:
        _assign(document, key, parse_value(text))
    validate(document)
    write_document(path, document)
    new = _lookup(document, key)
    masked = key in _secret_keys()
    return SettingChange(key, _shown(old, masked), _shown(new, masked))


def parse_value(text: str) -> Any:
    """A TOML value (`0.5`, `true`, `"text"`, `["a", "b"]`, `{toxicity = 0.5}`); text that is
    not one (a bare word) counts as a string."""
    if not text.strip():
        raise InvalidSetting("give a value, or remove the key to go back to the default")
    try:
        parsed = tomlkit.parse(f"value = {text.strip()}")
    except ParseError:
        return text.strip()
    if list(parsed) != ["value"]:
        raise InvalidSetting(f"{text!r} is more than one value")
    return parsed["value"]


def validate(document: TOMLDocument) -> Settings:
    """Settings from the document and the defaults alone (the environment cannot hide an error
    in the file)."""
    try:
        return _reading(None)(**document.unwrap())
    except ValidationError as exc:
        raise InvalidSetting(f"not written, the file would be invalid: {_problems(exc)}") from exc


def read_document(path: Path) -> TOMLDocument:
    return tomlkit.parse(path.read_text()) if path.is_file() else tomlkit.document()


def write_document(path: Path, document: TOMLDocument) -> None:
    """Replace the file in one step: a running process never reads half of it."""
    partial = path.with_name(f".{path.name}.partial")
    text = tomlkit.dumps(document)
    partial.write_text(text if text.endswith("\n") or not text else text + "\n")
    if path.is_file():
        shutil.copymode(path, partial)  # it may hold secrets: keep who may read it
    os.replace(partial, path)


def _load(path: Path) -> Settings:
    """Settings as a process started now reads them (environment over file), from `path`."""
    return _reading(path)()


def _reading(path: Path | None) -> type[Settings]:
    """Settings that read the environment over the file at `path`; with None, neither: only
    the values given and the defaults."""

    class Reading(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type,
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            **others: Any,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            if path is None:
                return (init_settings,)
            return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, path)

    return Reading


def _lookup(document: TOMLDocument, key: str) -> Item | None:
    *section, name = key.split(".")
    table = document.get(section[0]) if section else document
    return table.get(name) if isinstance(table, dict) else None


def _assign(document: TOMLDocument, key: str, value: Any) -> None:
    *section, name = key.split(".")
    if not section:
        document[name] = value
        return
    if section[0] not in document:
        document[section[0]] = tomlkit.table()
    document[section[0]][name] = value


def _remove(document: TOMLDocument, key: str) -> None:
    *section, name = key.split(".")
    del (document[section[0]] if section else document)[name]


def _secret_keys() -> set[str]:
    return {key for key, annotation in _annotations().items() if _is_secret(annotation)}


def _annotations() -> dict[str, Any]:
    """Every leaf setting's key (`section.name`, or `name` at the top) and its type."""
    leaves = {}
    for name, field in Settings.model_fields.items():
        sub_fields = getattr(field.annotation, "model_fields", None)
        if sub_fields is None:
            leaves[name] = field.annotation
        else:
            leaves |= {f"{name}.{key}": sub.annotation for key, sub in sub_fields.items()}
    return leaves


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(arg) for arg in get_args(annotation))


def _set_in_environment(env_var: str) -> bool:
    # pydantic-settings matches environment variables without regard to case.
    return any(name.upper() == env_var for name in os.environ)


def _literal(value: Any) -> str:
    """A value as one would write it in the file (JSON where TOML has no way: a null)."""
    plain = to_jsonable_python(value)
    if plain is None:
        return "(not set)"
    try:
        return _toml_item(plain).as_string()
    except ConvertError:
        return json.dumps(plain)


def _toml_item(plain: Any) -> Item:
    if not isinstance(plain, dict):
        return tomlkit.item(plain)
    table = tomlkit.inline_table()
    for key, value in plain.items():
        table[key] = _toml_item(value)
    return table


def _shown(item: Item | None, masked: bool) -> str | None:
    if item is None:
        return None
    return MASK if masked else item.as_string().strip()


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in exc.errors()
    )
