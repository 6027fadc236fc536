"""The end users' chat page (Streamlit): streamed answers, ratings, regenerate, corrections,
and the user's consent to training."""

import uuid

import streamlit as st

from bot.client import Answer, BotClient, BotError

THUMBS = {0: -1, 1: 1}  # st.feedback("thumbs") index -> stored value
CONSENT_LABEL = "Let my conversations improve the bot"
CONSENT_HELP = (
    "On: your conversations and your ratings of them may be used to train the bot. Off: they "
    "are only used to answer you. Turned off during a conversation, it covers the whole "
    "conversation from your next message on; turned back on, it applies to your next "
    "conversation (reload the page)."
)


def render_chat_page(client: BotClient, *, title: str, default_consent: bool = True) -> None:
    st.title(title)
    consent = st.toggle(CONSENT_LABEL, value=default_consent, key="consent", help=CONSENT_HELP)
    state = st.session_state
    state.setdefault("turns", [])  # [{"question": str, "answer": Answer}]
    state.setdefault("sent", {})  # (message id, kind) -> last value sent, so reruns send nothing

    for index, turn in enumerate(state.turns):
        with st.chat_message("user"):
            st.markdown(turn["question"])
        with st.chat_message("assistant"):
            st.markdown(turn["answer"].text or "_(no answer)_")
            _feedback_controls(
                client, turn["answer"], last=index == len(state.turns) - 1, consent=consent
            )

    if question := st.chat_input("Ask about orders, returns, shipping, opening hours…"):
        with st.chat_message("user"):
            st.markdown(question)
        with st.chat_message("assistant"):
            previous = state.turns[-1]["answer"] if state.turns else None
            try:
                stream = client.stream(
                    [*_history(state.turns), {"role": "user", "content": question}],
                    conversation_id=previous.conversation_id if previous else None,
                    parent_id=previous.message_id if previous else None,
                    allow_data_use=consent,
                )
                st.write_stream(stream)
            except (BotError, OSError) as exc:
                st.error(f"The bot could not answer: {exc}")
                return
        state.turns.append({"question": question, "answer": stream.answer})
        st.rerun()


def _feedback_controls(client: BotClient, answer: Answer, *, last: bool, consent: bool) -> None:
    thumbs, stars, regenerate, correct, flag = st.columns([2, 3, 2, 3, 2])
    with thumbs:
        choice = st.feedback("thumbs", key=f"thumbs-{answer.message_id}")
        if choice is not None:
            _send(client, answer, "thumbs", value=THUMBS[choice])
    with stars:
        choice = st.feedback("stars", key=f"stars-{answer.message_id}")
        if choice is not None:
            _send(client, answer, "stars", value=choice + 1)
    with regenerate:
        if last and st.button("Regenerate", key=f"regenerate-{answer.message_id}"):
            try:
                new = client.regenerate(answer.message_id, allow_data_use=consent)
            except (BotError, OSError) as exc:
                st.error(f"The bot could not answer again: {exc}")
                return
            st.session_state.turns[-1]["answer"] = new
            st.rerun()
    with (
        correct,
        st.popover("Better answer"),
        st.form(key=f"correct-{answer.message_id}", clear_on_submit=True),
    ):
        text = st.text_area("A better answer would be")
        if st.form_submit_button("Send") and text.strip():
            _send(client, answer, "correction", text=text.strip())
            st.toast("Thank you: the bot learns from this.")
    with flag, st.popover("Flag"), st.form(key=f"flag-{answer.message_id}", clear_on_submit=True):
        reason = st.text_input("What is wrong with it?")
        if st.form_submit_button("Flag") and reason.strip():
            _send(client, answer, "flag", text=reason.strip())
            st.toast("Flagged for review.")


def _send(client: BotClient, answer: Answer, kind: str, *, value=None, text=None) -> None:
    """Send a rating once per change: a rerun resends nothing, a changed vote is a new event."""
    sent = st.session_state.sent
    slot = (str(answer.message_id), kind)
    if value is not None and sent.get(slot) == value:
        return
    try:
        client.rate(
            answer.message_id, kind, value=value, text=text, idempotency_key=str(uuid.uuid4())
        )
    except (BotError, OSError) as exc:
        st.error(f"Your feedback was not saved: {exc}")
        return
    sent[slot] = value


def _history(turns: list[dict]) -> list[dict[str, str]]:
    history = []
    for turn in turns:
        history += [
            {"role": "user", "content": turn["question"]},
            {"role": "assistant", "content": turn["answer"].text or "…"},
        ]
    return history
