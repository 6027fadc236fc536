"""The background server keeps an idle connection open longer than clients keep theirs."""

import socket
import time

from bot.server import KEEP_ALIVE_SECONDS

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n"
CLIENT_KEEP_ALIVE = 5.0  # httpx's default, which the openai package keeps


def test_a_connection_idle_as_long_as_a_client_keeps_it_still_serves(live_bot):
    assert KEEP_ALIVE_SECONDS > CLIENT_KEEP_ALIVE
    host, port = live_bot.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(REQUEST)
        assert _response(connection).startswith(b"HTTP/1.1 200")
        time.sleep(CLIENT_KEEP_ALIVE + 0.5)  # uvicorn's default would have closed it by now
        connection.sendall(REQUEST)
        assert _response(connection).startswith(b"HTTP/1.1 200")


def _response(connection: socket.socket) -> bytes:
    """One response: its head, then as many body bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            return data  # the server closed the connection
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return head
