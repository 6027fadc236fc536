"""Real pages in a real browser: a Streamlit app in its own process, and headless Chromium."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.server import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TUNELOOP = Path(__file__).parents[1] / "tuneloop"


def require_chromium() -> None:
    """Skip without Chromium, except in CI (TUNELOOP_REQUIRE_BROWSER=1), where it is a failure."""
    if not Path(CHROMIUM).exists():
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("TUNELOOP_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def streamlit_app(script: str, *, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`tuneloop/<script>` served by Streamlit on a free port; yields its URL."""
    port = free_port("127.0.0.1")
    command = [sys.executable, "-m", "streamlit", "run", str(TUNELOOP / script)]
    command += ["--server.port", str(port), "--server.headless", "true"]
    command += ["--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]
    app = subprocess.Popen(
        command,
        env=os.environ | env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if time.monotonic() > deadline or app.poll() is not None:
                pytest.fail(f"{script} did not start")
            time.sleep(0.2)
        yield url
    finally:
        app.terminate()
        app.wait(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health").status_code == 200
    except httpx.TransportError:
        return False
