"""Run the bot's app with uvicorn in a background thread: for the demo, benchmarks and tests."""

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

# How long the server keeps an idle connection open. Longer than clients keep theirs (httpx and
# the openai package: 5 s): at uvicorn's default, also 5 s, a request sent on a connection the
# server was closing at that moment was reset, as a demo's user who rated an answer after
# waiting 5 s for a batch of 32 was.
KEEP_ALIVE_SECONDS = 75


class BackgroundServer:
    """`with BackgroundServer(app) as server:` serves `app` on loopback at `server.url`."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> "BackgroundServer":
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
