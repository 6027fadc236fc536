"""Erase a user (admins): everything they wrote, rated or were answered, and the pairs made of
it; the report names the model versions already trained on their data."""

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import actions
from dashboards.admin import Forget
from dashboards.auth import Staff
from dashboards.rights import EXPLANATION, NotAllowed, allowed
from feedback import Store


def render(store: Store, staff: Staff, forget: Forget | None) -> None:
    st.title("Erase a user")
    if not allowed(staff, "erase"):
        st.warning(EXPLANATION)
        return
    if forget is None:
        st.error("Erasure is not wired into this dashboard: start it with `tuneloop dashboard`.")
        return
    st.caption(
        "Removes the user's conversations, messages and feedback and the pairs made of them, "
        "rewrites the dataset snapshots that held them, and scrubs the database's free space "
        "and the log files. It cannot be undone. The audit trail keeps a receipt, not the id."
    )
    user_id = st.text_input("User id (as the chat API received it)", key="erase_user").strip()
    sure = st.checkbox("I understand: this cannot be undone", key="erase_confirm")
    if st.button("Erase", key="erase", type="primary", disabled=not (user_id and sure)):
        try:
            report = actions.erase_user(store, staff, forget, user_id)
        except NotAllowed as exc:
            st.error(str(exc))
            return
        show_report(report)


def show_report(report: dict[str, Any]) -> None:
    rows = report.get("rows", {})
    counts = {key: value for key, value in rows.items() if isinstance(value, int)}
    if not any(counts.values()):
        st.info("Nothing was stored for that user id: there was nothing to erase.")
    else:
        st.success(f"Erased. Receipt in the audit trail: {report.get('receipt')}")
        st.dataframe(
            pd.DataFrame({"what": list(counts), "removed": list(counts.values())}),
            hide_index=True,
        )
    if rewritten := rows.get("snapshots_rewritten"):
        st.caption(f"Dataset snapshots rewritten without them: {', '.join(rewritten)}")
    if trained := rows.get("trained_versions"):
        st.warning(
            "Model versions trained on this user's data (erasing rows does not reach the "
            f"weights; retrain or retire them if it must): {', '.join(trained)}"
        )
    with st.expander("Full report"):
        st.json(report)
