"""The operators' Streamlit app: login, then one page per job."""

from functools import partial

import streamlit as st

from dashboards.auth import logged_in_operator
from dashboards.pages import canary, conversations, review, runs, trends, trust, tuning
from feedback import Store
from feedback.similarity import Embed


def run_dashboard(
    store: Store,
    *,
    password_hash: str | None,
    embed: Embed | None = None,
    hyperparameters: str = "default",
    profile: str | None = None,
) -> None:
    """The app; `embed` (texts -> unit vectors) adds similar conversations to the review queue;
    `hyperparameters` and `profile` (trainer settings) say which training profile is in use."""
    operator = logged_in_operator(password_hash)
    if operator is None:
        return
    st.sidebar.caption(f"Logged in as {operator}")
    canary.rollback_banner(store)
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
        st.Page(partial(canary.render, store), title="Canary", url_path="canary"),
        st.Page(partial(trust.render, store), title="Rater trust", url_path="trust"),
        st.Page(
            partial(tuning.render, store, hyperparameters, profile),
            title="Hyperparameter tuning",
            url_path="tuning",
        ),
    ]
    st.navigation(pages).run()
