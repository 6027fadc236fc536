"""The chat page, driven headless with Streamlit's AppTest against a live bot."""

from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from feedback.models import Conversation, FeedbackEvent, FeedbackKind, Message, Role

CHAT_APP = Path(__file__).parents[2] / "tuneloop" / "chat_app.py"


@pytest.fixture
def page(live_bot, monkeypatch):
    monkeypatch.setenv("TUNELOOP_BOT__API_URL", live_bot.url)
    return AppTest.from_file(str(CHAT_APP), default_timeout=60).run()


def events(bot, kind=None):
    with bot.store.session() as session:
        query = select(FeedbackEvent).order_by(FeedbackEvent.created_at)
        if kind is not None:
            query = query.where(FeedbackEvent.kind == kind)
        return session.exec(query).all()


def answers(bot):
    bot.logger.flush()
    with bot.store.session() as session:
        return session.exec(select(Message).where(Message.role == Role.assistant)).all()


def test_a_question_gets_a_streamed_answer_that_is_logged(page, live_bot):
    page.chat_input[0].set_value("How long do I have to return an item?").run()
    assert not page.exception
    assert [m.name for m in page.chat_message] == ["user", "assistant"]
    [answer] = answers(live_bot)
    assert page.chat_message[1].markdown[0].value == (answer.content or "_(no answer)_")

    page.chat_input[0].set_value("And what about shipping?").run()
    assert len(page.chat_message) == 4
    follow_up = max(answers(live_bot), key=lambda m: m.created_at)
    assert follow_up.conversation_id == answer.conversation_id


def test_ratings_are_stored_once_per_change(page, live_bot):
    page.chat_input[0].set_value("Can I pay in instalments?").run()
    thumbs, stars = page.feedback
    thumbs.set_value(1).run()
    stars.set_value(3).run()
    page.run()  # a rerun sends nothing again
    page.feedback[0].set_value(0).run()  # a changed vote is a new row

    assert [(e.kind, e.value) for e in events(live_bot)] == [
        (FeedbackKind.thumbs, 1),
        (FeedbackKind.stars, 4),
        (FeedbackKind.thumbs, -1),
    ]


def test_regenerate_and_correction_reach_the_store(page, live_bot):
    page.chat_input[0].set_value("Where are your stores?").run()
    [first] = answers(live_bot)
    page.button(key=f"regenerate-{first.id}").click().run()
    assert not page.exception
    siblings = answers(live_bot)
    assert len(siblings) == 2 and {s.parent_id for s in siblings} == {first.parent_id}
    assert [e.message_id for e in events(live_bot, FeedbackKind.regenerate)] == [first.id]

    page.text_area[0].input("Strandgaten 12 in Bergen and Karl Johans gate 45 in Oslo.")
    submit = next(b for b in page.get("form_submit_button") if b.label == "Send")
    submit.click().run()
    [correction] = events(live_bot, FeedbackKind.correction)
    assert correction.text.startswith("Strandgaten 12")
    assert correction.message_id != first.id  # the regenerated answer is the one on screen


def consents(bot):
    bot.logger.flush()
    with bot.store.session() as session:
        return [c.training_consent for c in session.exec(select(Conversation)).all()]


def test_the_consent_toggle_is_visible_and_on_by_default(page, live_bot):
    [toggle] = page.toggle
    assert toggle.label == "Let my conversations improve the bot" and toggle.value is True
    page.chat_input[0].set_value("Do you sell gift cards?").run()
    assert consents(live_bot) == [True]


def test_a_conversation_with_the_toggle_off_never_trains_the_bot(page, live_bot):
    page.toggle[0].set_value(False).run()
    page.chat_input[0].set_value("Do you sell gift cards?").run()
    assert not page.exception
    assert consents(live_bot) == [False]


def test_turning_the_toggle_off_mid_conversation_withdraws_its_consent(page, live_bot):
    page.chat_input[0].set_value("Do you sell gift cards?").run()
    assert consents(live_bot) == [True]
    page.toggle[0].set_value(False).run()
    page.chat_input[0].set_value("And can I return one?").run()
    assert len(page.chat_message) == 4
    assert consents(live_bot) == [False]


def test_the_toggle_starts_at_the_configured_default(live_bot, monkeypatch):
    monkeypatch.setenv("TUNELOOP_BOT__API_URL", live_bot.url)
    monkeypatch.setenv("TUNELOOP_GOVERNANCE__DEFAULT_CONSENT", "false")
    page = AppTest.from_file(str(CHAT_APP), default_timeout=60).run()
    assert page.toggle[0].value is False


def test_a_refused_question_is_shown_as_an_error_not_a_crash(governed_bot, monkeypatch):
    with governed_bot(chat_requests_per_minute=1) as bot:
        monkeypatch.setenv("TUNELOOP_BOT__API_URL", bot.url)
        page = AppTest.from_file(str(CHAT_APP), default_timeout=60).run()
        page.chat_input[0].set_value("Do you sell gift cards?").run()
        page.chat_input[0].set_value("And can I return one?").run()
        assert not page.exception
        [error] = page.error
        assert "429" in error.value and "retry in" in error.value
        [answer] = answers(bot)
        page.button(key=f"regenerate-{answer.id}").click().run()
        assert not page.exception and "429" in page.error[0].value
