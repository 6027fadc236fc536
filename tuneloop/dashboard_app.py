"""Streamlit entry point of `tuneloop dashboard`: the operators' app, wired from settings."""

from typing import Any

import streamlit as st
from pydantic import SecretStr

from dashboards import run_dashboard
from feedback import Store
from feedback.models import ActorRole
from feedback.similarity import Embed
from tuneloop.governance import forget_user
from tuneloop.scoring import sentence_embedder
from tuneloop.settings import Settings, config_file
from tuneloop.settings_file import SettingsFile
from tuneloop.store import open_store

st.set_page_config(page_title="tuneloop operators", page_icon="📈", layout="wide")


@st.cache_resource
def _wiring() -> tuple[Store, Settings, Embed | None]:
    settings = Settings()
    embedder = sentence_embedder(settings)
    return open_store(settings), settings, embedder.embed if embedder else None


def _revealed(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


store, settings, embed = _wiring()


def forget(user_id: str, actor: str) -> dict[str, Any]:
    # Only the admins' page calls it, after checking the role.
    return forget_user(settings, store, user_id, actor=actor, role=ActorRole.admin).as_dict()


run_dashboard(
    store,
    operator_password_hash=_revealed(settings.dashboards.operator_password_hash),
    admin_password_hash=_revealed(settings.dashboards.admin_password_hash),
    embed=embed,
    hyperparameters=settings.trainer.hyperparameters,
    profile=settings.trainer.profile,
    forget=forget,
    settings_file=SettingsFile(config_file()),
)
