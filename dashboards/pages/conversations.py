"""Conversations: search them, and read one with its ratings inline; answers the serving guard
withheld are marked, and users' messages show their sentiment."""

import uuid

import streamlit as st

from dashboards.cache import cached
from dashboards.queries import conversation_messages, feedback_on, search_conversations
from feedback import Store


def render(store: Store) -> None:
    st.title("Conversations")
    text = st.text_input("Search messages", key="conversation_search")
    found = cached(store, search_conversations, text=text)
    if found.empty:
        st.info("No conversation matches." if text else "No conversations yet.")
        return
    st.dataframe(found, hide_index=True, width="stretch")
    chosen = st.selectbox("Read", found["conversation"].astype(str), key="conversation_pick")
    with store.session() as session:
        for message in conversation_messages(session, uuid.UUID(chosen)):
            with st.chat_message(message.role.value):
                if message.guard_flags is not None:
                    st.caption(f"🛡️ withheld by the guard: {', '.join(message.guard_flags)}")
                st.markdown(message.content or "_(empty)_")
                ratings = [
                    f"{e.kind.value} {e.value if e.value is not None else e.text or ''}".strip()
                    for e in feedback_on(session, message.id)
                ]
                if message.sentiment is not None:
                    ratings.append(f"sentiment {message.sentiment:+.2f}")
                if ratings:
                    st.caption(" · ".join(ratings))
