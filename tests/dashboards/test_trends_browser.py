"""The trends page in headless Chromium: log in, see the charts, keep a screenshot."""

import pytest

from dashboards.auth import hash_password
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_app
from tests.conftest import PSEUDONYM_KEY


@pytest.mark.slow
def test_the_trends_page_shows_its_charts(seeded_store, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    env = {
        "TUNELOOP_STORE__URL": seeded_store.engine.url.render_as_string(False),
        "TUNELOOP_STORE__PSEUDONYM_KEY": PSEUDONYM_KEY.decode(),
        "TUNELOOP_DASHBOARDS__OPERATOR_PASSWORD_HASH": hash_password("secret"),
    }
    screenshot = tmp_path / "trends.png"
    with (
        streamlit_app("dashboard_app.py", env=env, cwd=tmp_path) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(url)
        page.get_by_label("Your name").fill("Ada")
        page.get_by_role("textbox", name="Password").fill("secret")
        page.get_by_role("button", name="Log in").click()

        expect(page.get_by_text("Quality trends").first).to_be_visible(timeout=60_000)
        charts = page.locator('[data-testid="stVegaLiteChart"]')
        expect(charts).to_have_count(5, timeout=60_000)
        expect(charts.first.locator("canvas, svg").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Thumbs-up rate (95% interval)")).to_be_visible()
        page.wait_for_timeout(1000)  # let the charts finish drawing
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 30_000  # charts, not an empty page
