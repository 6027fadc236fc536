"""Streamlit entry point of `tuneloop dashboard`: the operators' app, wired from settings."""

import streamlit as st

from dashboards import run_dashboard
from feedback import Store
from feedback.similarity import Embed
from tuneloop.scoring import sentence_embedder
from tuneloop.settings import Settings
from tuneloop.store import open_store

st.set_page_config(page_title="tuneloop operators", page_icon="📈", layout="wide")


@st.cache_resource
def _wiring() -> tuple[Store, Settings, Embed | None]:
    settings = Settings()
    return open_store(settings), settings, sentence_embedder(settings)


store, settings, embed = _wiring()
secret = settings.dashboards.operator_password_hash
run_dashboard(
    store,
    password_hash=secret.get_secret_value() if secret else None,
    embed=embed,
    hyperparameters=settings.trainer.hyperparameters,
    profile=settings.trainer.profile,
)
