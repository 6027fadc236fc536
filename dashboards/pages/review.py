"""The review queue: flagged and down-rated answers first; exclude, approve or correct them."""

import streamlit as st

from dashboards.queries import feedback_on, review_queue
from feedback import Store, record_review
from feedback.models import FeedbackKind, Message


def render(store: Store, operator: str) -> None:
    st.title("Review queue")
    st.caption("Flagged and down-rated answers not yet reviewed, flagged first.")
    with store.session() as session:
        queue = review_queue(session)
        if not queue:
            st.success("Nothing to review: no flagged or down-rated answers are waiting.")
            return
        for answer in queue:
            question = session.get(Message, answer.parent_id) if answer.parent_id else None
            _review_card(store, operator, answer, question, feedback_on(session, answer.id))


def _review_card(store: Store, operator: str, answer: Message, question, events) -> None:
    flagged = any(event.kind == FeedbackKind.flag for event in events)
    with st.container(border=True):
        st.markdown(
            f"{'🚩 ' if flagged else ''}**Question:** {question.content if question else '-'}"
        )
        st.markdown(f"**Answer:** {answer.content or '_(empty)_'}")
        for event in events:
            detail = event.value if event.value is not None else (event.text or "")
            left, right = st.columns([4, 1])
            left.caption(f"{event.kind.value} {detail} · {event.created_at:%Y-%m-%d %H:%M}")
            if right.button("Exclude", key=f"exclude-{event.id}", help="Keep it out of training"):
                _review(store, answer, operator, action="exclude", feedback_id=event.id)
        note = st.text_input("Note", key=f"note-{answer.id}")
        corrected = st.text_area("Corrected answer", key=f"correct-text-{answer.id}")
        approve, correct = st.columns(2)
        if approve.button("Approve", key=f"approve-{answer.id}"):
            _review(store, answer, operator, action="approve", note=note)
        if correct.button("Save correction", key=f"correct-{answer.id}", disabled=not corrected):
            _review(store, answer, operator, action="correct", corrected_text=corrected, note=note)


def _review(store: Store, answer: Message, operator: str, **review) -> None:
    with store.session() as session:
        record_review(session, message_id=answer.id, reviewer=operator, **review)
    st.toast(f"{review['action']} recorded")
    st.rerun()
