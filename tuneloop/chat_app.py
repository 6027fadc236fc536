"""Streamlit entry point of `tuneloop chat`: the end users' chat page, wired from settings."""

import uuid

import streamlit as st

from bot.chat_page import render_chat_page
from bot.client import BotClient
from tuneloop.settings import Settings

st.set_page_config(page_title="Northwind Outfitters support", page_icon="💬")
if "client" not in st.session_state:
    settings = Settings()
    st.session_state.client = BotClient(
        settings.bot.api_url,
        api_key=settings.bot.api_keys[0].get_secret_value() if settings.bot.api_keys else None,
        user=f"web-{uuid.uuid4()}",  # one anonymous user per browser session
    )
    st.session_state.default_consent = settings.governance.default_consent
render_chat_page(
    st.session_state.client,
    title="Northwind Outfitters support",
    default_consent=st.session_state.default_consent,
)
