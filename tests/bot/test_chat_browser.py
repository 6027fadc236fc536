"""The chat page in a real headless Chromium: ask, see the answer and the controls, rate it."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot.server import free_port
from feedback.models import FeedbackEvent, FeedbackKind

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHAT_APP = Path(__file__).parents[2] / "tuneloop" / "chat_app.py"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chat_page_url(live_bot, tmp_path):
    if not Path(CHROMIUM).exists():
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("TUNELOOP_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port("127.0.0.1")
    page = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(CHAT_APP),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "minimal",
        ],
        env=os.environ | {"TUNELOOP_BOT__API_URL": live_bot.url},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/_stcore/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or page.poll() is not None:
            page.kill()
            pytest.fail("the chat page did not start")
        time.sleep(0.2)
    yield url
    page.terminate()
    page.wait(timeout=30)


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
