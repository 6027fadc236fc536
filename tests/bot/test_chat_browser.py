"""The chat page in a real headless Chromium: ask, see the answer and the controls, rate it."""

import time

import pytest
from sqlmodel import select

from feedback.models import FeedbackEvent, FeedbackKind
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_app


@pytest.fixture
def chat_page_url(live_bot, tmp_path):
    require_chromium()
    with streamlit_app(
        "chat_app.py", env={"TUNELOOP_BOT__API_URL": live_bot.url}, cwd=tmp_path
    ) as url:
        yield url


@pytest.mark.slow
def test_a_user_chats_and_rates_in_a_real_browser(chat_page_url, live_bot, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    question = "How long do I have to return an item?"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(chat_page_url)
        page.get_by_placeholder("Ask about").fill(question)
        page.keyboard.press("Enter")

        messages = page.locator('[data-testid="stChatMessage"]')
        expect(messages).to_have_count(2, timeout=60_000)
        expect(messages.nth(0)).to_contain_text(question)
        for control in ("Thumbs up", "Thumbs down", "5 out of 5 stars"):
            expect(page.get_by_label(control)).to_be_visible()
        for button in ("Regenerate", "Better answer", "Flag"):
            expect(page.get_by_role("button", name=button)).to_be_visible()
        screenshot = tmp_path / "chat.png"
        page.screenshot(path=str(screenshot), full_page=True)

        page.get_by_label("Thumbs up").click()
        deadline = time.monotonic() + 30
        while not (events := _thumbs(live_bot)) and time.monotonic() < deadline:
            time.sleep(0.2)
        browser.close()

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a rendered page, not a blank one
    assert [event.value for event in events] == [1]


def _thumbs(bot):
    with bot.store.session() as session:
        query = select(FeedbackEvent).where(FeedbackEvent.kind == FeedbackKind.thumbs)
        return session.exec(query).all()
