"""The operators' Streamlit app: login, then one page per job; admins get the admin pages."""

from functools import partial

import streamlit as st

from dashboards.admin import Forget, SettingsFile
from dashboards.auth import Staff, log_out_button, logged_in
from dashboards.pages import (
    audit,
    canary,
    conversations,
    erase,
    review,
    runs,
    settings,
    trends,
    trust,
    tuning,
)
from dashboards.rights import allowed
from feedback import Store
from feedback.similarity import Embed


def run_dashboard(
    store: Store,
    *,
    operator_password_hash: str | None,
    admin_password_hash: str | None = None,
    embed: Embed | None = None,
    hyperparameters: str = "default",
    profile: str | None = None,
    forget: Forget | None = None,
    settings_file: SettingsFile | None = None,
) -> None:
    """The app. `embed` (texts -> unit vectors) adds similar conversations to the review queue;
    `hyperparameters` and `profile` (trainer settings) say which training profile is in use;
    `forget` (user id, actor -> report) and `settings_file` back the admins' pages."""
    staff = logged_in(store, operator_hash=operator_password_hash, admin_hash=admin_password_hash)
    if staff is None:
        return
    log_out_button(store, staff)
    canary.rollback_banner(store)
    pages = [
        st.Page(
            partial(trends.render, store), title="Quality trends", url_path="trends", default=True
        ),
        st.Page(
            partial(review.render, store, staff, embed), title="Review queue", url_path="review"
        ),
        st.Page(
            partial(conversations.render, store), title="Conversations", url_path="conversations"
        ),
        st.Page(partial(runs.render, store, staff), title="Training runs", url_path="runs"),
        st.Page(partial(canary.render, store), title="Canary", url_path="canary"),
        st.Page(partial(trust.render, store), title="Rater trust", url_path="trust"),
        st.Page(
            partial(tuning.render, store, hyperparameters, profile),
            title="Hyperparameter tuning",
            url_path="tuning",
        ),
        st.Page(partial(audit.render, store), title="Audit trail", url_path="audit"),
    ]
    st.navigation(pages + _admin_pages(store, staff, forget, settings_file)).run()


def _admin_pages(
    store: Store, staff: Staff, forget: Forget | None, settings_file: SettingsFile | None
) -> list:
    """Operators do not see these pages at all (and each page checks the role again)."""
    pages = []
    if allowed(staff, "erase"):
        erasing = partial(erase.render, store, staff, forget)
        pages.append(st.Page(erasing, title="Erase a user", url_path="erase"))
    if allowed(staff, "change_setting"):
        changing = partial(settings.render, store, staff, settings_file)
        pages.append(st.Page(changing, title="Settings", url_path="settings"))
    return pages
