"""Settings (admins): every setting with its value, where it comes from and its help text; one
value at a time changed in the TOML settings file, checked before it is written."""

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboards import actions
from dashboards.admin import Setting, SettingsFile
from dashboards.auth import Staff
from dashboards.rights import EXPLANATION, NotAllowed, allowed
from feedback import Store

VALUE_HELP = 'A TOML value: 0.5, true, "text", ["a", "b"], {toxicity = 0.4}. A bare word is text.'


def render(store: Store, staff: Staff, settings_file: SettingsFile | None) -> None:
    st.title("Settings")
    if not allowed(staff, "change_setting"):
        st.warning(EXPLANATION)
        return
    if settings_file is None:
        st.error("No settings file is wired in: start the dashboard with `tuneloop dashboard`.")
        return
    st.caption(
        f"Changes are written to {settings_file.path}, comments kept. Environment variables "
        "(TUNELOOP_...) override the file. Running processes (the bot, the scheduler, this "
        "dashboard) pick changes up when they restart."
    )
    try:
        settings = settings_file.settings()
    except ValueError as exc:
        st.error(str(exc))
        return
    _change(store, staff, settings_file, settings)
    st.subheader("Every setting")
    try:
        settings = settings_file.settings()  # again: the table shows a change just made
    except ValueError as exc:
        st.error(str(exc))
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "key": s.key,
                    "value": s.value,
                    "from": s.source,
                    "description": s.description,
                    "environment variable": s.env_var,
                }
                for s in settings
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def _change(
    store: Store, staff: Staff, settings_file: SettingsFile, settings: Sequence[Setting]
) -> None:
    st.subheader("Change a setting")
    by_key = {s.key: s for s in settings}
    key = st.selectbox("Setting", list(by_key), key="setting_key")
    chosen = by_key[key]
    st.caption(f"{chosen.description} Now: {chosen.value} (from {chosen.source}).")
    if chosen.source == "environment":
        st.warning(
            f"{chosen.env_var} is set: it overrides whatever the file says. Change it where "
            "the processes are started."
        )
    text = st.text_input("New value", key="setting_value", help=VALUE_HELP)
    write, remove = st.columns(2)
    change = None
    try:
        if write.button("Write to the settings file", disabled=not text.strip()):
            change = actions.change_setting(store, staff, settings_file, key, text)
        unset = chosen.source == "default"
        if remove.button("Remove from the file (back to the default)", disabled=unset):
            change = actions.change_setting(store, staff, settings_file, key, None)
    except (ValueError, NotAllowed) as exc:
        st.error(str(exc))
    if change is not None:
        st.success(
            f"{change.key}: {change.old or '(default)'} → {change.new or '(default)'} in "
            f"{settings_file.path}. Restart the processes to use it."
        )
