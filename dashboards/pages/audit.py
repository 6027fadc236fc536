"""The audit trail: every login, review, promotion, rollback, erasure and settings change, the
newest first; who did it, as what, on which ids (never user texts)."""

import json

import pandas as pd
import streamlit as st

from dashboards.queries import audit_actions
from feedback import Store, recent_audit_events

LIMIT = 500
EVERY_ACTION = "every action"


def render(store: Store) -> None:
    st.title("Audit trail")
    st.caption(
        "What operators, admins and scheduled jobs did, the newest first. Rows hold names, "
        "roles, ids and counts, never what users wrote."
    )
    with store.session() as session:
        choices = [EVERY_ACTION, *audit_actions(session)]
        chosen = st.selectbox("Action", choices, key="audit_action")
        action = None if chosen == EVERY_ACTION else chosen
        events = recent_audit_events(session, limit=LIMIT, action=action)
    if not events:
        st.info("No audit rows yet: logins, reviews and model changes are recorded here.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": event.created_at,
                    "actor": event.actor,
                    "role": event.role.value,
                    "action": event.action,
                    "target": event.target,
                    "details": json.dumps(event.details, sort_keys=True) if event.details else "",
                }
                for event in events
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if len(events) == LIMIT:
        st.caption(f"The newest {LIMIT} rows; filter by action to look further back.")
