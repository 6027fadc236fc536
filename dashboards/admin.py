"""What the admin pages get from the composition root (dashboards import no tuneloop): a way to
erase a user, and the settings file to read and change."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


class Forget(Protocol):
    def __call__(self, user_id: str, actor: str) -> dict[str, Any]:
        """Erase everything `user_id` left in the store; the report: counts, and the model
        versions trained on their data. Records its own audit row."""
        ...


class Setting(Protocol):
    """One setting as a process started now would read it; secrets masked."""

    key: str
    env_var: str
    value: str
    source: str  # environment, file or default
    description: str


class SettingChange(Protocol):
    """What one change did to the file; secrets masked, None where the key was not set."""

    key: str
    old: str | None
    new: str | None


class SettingsFile(Protocol):
    path: Path

    def settings(self) -> Sequence[Setting]:
        """Every setting, with its value, where the value comes from, and its help text."""
        ...

    def change(self, key: str, text: str | None) -> SettingChange:
        """Write `key = text` (a TOML value; None removes the key) if the whole file stays
        valid, else raise ValueError saying what is wrong."""
        ...
