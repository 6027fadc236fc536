"""The operators' Streamlit app: login, then one page per job."""

from functools import partial

import streamlit as st

from dashboards.auth import logged_in_operator
from dashboards.pages import conversations, review, runs, trends, trust
from feedback import Store
from feedback.similarity import Embed


def run_dashboard(store: Store, *, password_hash: str | None, embed: Embed | None = None) -> None:
    """The app; `embed` (texts -> unit vectors) adds similar conversations to the review queue."""
    operator = logged_in_operator(password_hash)
    if operator is None:
        return
    st.sidebar.caption(f"Logged in as {operator}")
    pages = [
        st.Page(
            partial(trends.render, store), title="Quality trends", url_path="trends", default=True
        ),
        st.Page(
            partial(review.render, store, operator, embed),
            title="Review queue",
            url_path="review",
        ),
        st.Page(
            partial(conversations.render, store), title="Conversations", url_path="conversations"
        ),
        st.Page(partial(runs.render, store), title="Training runs", url_path="runs"),
        st.Page(partial(trust.render, store), title="Rater trust", url_path="trust"),
    ]
    st.navigation(pages).run()
