"""The review queue: flagged, guard-withheld and down-rated answers; exclude, approve or correct."""

import streamlit as st

from dashboards import actions
from dashboards.auth import Staff
from dashboards.cache import cached
from dashboards.queries import feedback_on, review_queue
from dashboards.similar import similar_conversations
from feedback import Store
from feedback.models import FeedbackKind, Message
from feedback.similarity import Embed


def render(store: Store, staff: Staff, embed: Embed | None = None) -> None:
    """`embed` (texts -> unit vectors) lets each item show conversations similar in meaning."""
    st.title("Review queue")
    st.caption(
        "Answers not yet reviewed: flagged by users first, then those the serving guard "
        "withheld (never shown: what the bot almost said), then the down-rated ones."
    )
    with store.session() as session:
        queue = review_queue(session)
        if not queue:
            st.success("Nothing to review: no flagged, withheld or down-rated answers wait.")
            return
        for answer in queue:
            question = session.get(Message, answer.parent_id) if answer.parent_id else None
            _review_card(store, staff, answer, question, feedback_on(session, answer.id))
            if embed is not None and question is not None:
                _similar(store, question, embed)


def _similar(store: Store, question: Message, embed: Embed) -> None:
    if st.toggle("Similar conversations", key=f"similar-{question.id}"):
        # Cached: every click on the page reruns it, and embedding the pool takes a second.
        found = cached(
            store, similar_conversations, question_id=question.id, helpers={"embed": embed}
        )
        if found.empty:
            st.caption("No other conversation asks anything close to this.")
        else:
            st.dataframe(found, hide_index=True, width="stretch")


def _review_card(store: Store, staff: Staff, answer: Message, question, events) -> None:
    flagged = any(event.kind == FeedbackKind.flag for event in events)
    withheld = answer.guard_flags is not None
    mark = "🚩 " if flagged else "🛡️ " if withheld else ""
    with st.container(border=True):
        st.markdown(f"{mark}**Question:** {question.content if question else '-'}")
        label = "Withheld by the guard, never shown" if withheld else "Answer"
        st.markdown(f"**{label}:** {answer.content or '_(empty)_'}")
        if withheld:
            st.caption(f"guard flags: {', '.join(answer.guard_flags) or '-'}")
        for event in events:
            detail = event.value if event.value is not None else (event.text or "")
            left, right = st.columns([4, 1])
            left.caption(f"{event.kind.value} {detail} · {event.created_at:%Y-%m-%d %H:%M}")
            if right.button("Exclude", key=f"exclude-{event.id}", help="Keep it out of training"):
                _review(store, staff, answer, action="exclude", feedback_id=event.id)
        note = st.text_input("Note", key=f"note-{answer.id}")
        corrected = st.text_area("Corrected answer", key=f"correct-text-{answer.id}")
        approve, correct = st.columns(2)
        if approve.button("Approve", key=f"approve-{answer.id}"):
            _review(store, staff, answer, action="approve", note=note)
        if correct.button("Save correction", key=f"correct-{answer.id}", disabled=not corrected):
            _review(store, staff, answer, action="correct", corrected_text=corrected, note=note)


def _review(store: Store, staff: Staff, answer: Message, **review) -> None:
    actions.review(store, staff, message_id=answer.id, **review)
    st.toast(f"{review['action']} recorded")
    st.rerun()
