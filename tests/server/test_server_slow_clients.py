"""Slow clients: request headers and bodies have deadlines, and the number of connections is capped with a 503.

Raw sockets against a real server with short limits. Each test waits (with a generous deadline) for the server to
act — a close, a status line — and never measures how long it took.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from mosaicstack_telemetry._protocol import EVENTS_PATH
from mosaicstack_telemetry.server import SlowClientLimits
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread

from ._server_support import wire_event

LIMITS = SlowClientLimits(header_timeout=0.4, body_idle_timeout=0.4, body_timeout=1.2, max_connections=4)
PATIENCE = 10.0  # far beyond every limit: a server that never closes fails the test instead of hanging it


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with run_in_thread(slow_clients=LIMITS) as running:
        yield running


def connect(server: ServerThread) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or PATIENCE passes: then the test fails)."""
    received = b""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the server kept the connection open for {PATIENCE} s")


def drip(sock: socket.socket, data: bytes, every: float) -> bool:
    """Send ``data`` a byte at a time; False once the server has closed the connection."""
    for index in range(len(data)):
        try:
            sock.sendall(data[index : index + 1])
        except (BrokenPipeError, ConnectionResetError):
            return False
        time.sleep(every)
    return True


def head(server: ServerThread, length: int) -> bytes:
    return (
        f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_headers_dripped_past_the_deadline_get_408_and_a_close(server: ServerThread) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        drip(sock, b"X-Slow: " + b"a" * 40, every=0.05)  # 2 s of header bytes, 0.4 s allowed
        reply = read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert reply.endswith(b'{"detail":"request headers not complete in time"}')


def test_a_silent_connection_is_closed(server: ServerThread) -> None:
    with connect(server) as sock:
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_a_stalled_body_is_closed(server: ServerThread) -> None:
    with connect(server) as sock:
        sock.sendall(head(server, 100) + b'{"events": [')
        assert b"" == read_until_closed(sock)  # no answer: the request was never complete
    assert 0 == server.storage.count_events()


def test_a_dripped_body_is_closed_at_the_body_deadline(server: ServerThread) -> None:
    with connect(server) as sock:
        sock.sendall(head(server, 100))
        assert not drip(sock, b" " * 100, every=0.1)  # each pause is short, the whole takes 10 s: cut at 1.2 s


def test_prompt_requests_and_kept_alive_connections_are_served(server: ServerThread) -> None:
    """A request well within the limits is answered; the connection stays open for the next one, whose headers get
    a deadline of their own."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}) as http:
        assert 1 == http.post(EVENTS_PATH, json={"events": [wire_event(server.instance_id)]}).json()["accepted"]
        time.sleep(0.6)  # longer than the header deadline: an idle kept-alive connection is not a slow request
        assert 200 == http.get("/healthz").status_code
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b'"api_version":"v1"}'):  # the whole first reply
            chunk = sock.recv(65536)
            assert chunk, first
            first += chunk
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request's headers never end
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 ")


def test_connections_beyond_the_cap_get_503(server: ServerThread) -> None:
    idle = [connect(server) for _ in range(LIMITS.max_connections)]
    try:
        deadline = time.monotonic() + PATIENCE
        while True:  # the server accepts the idle connections asynchronously: wait until it counts them
            response = httpx.get(f"{server.url}/healthz", timeout=PATIENCE)
            if response.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert 503 == response.status_code
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + PATIENCE
    while httpx.get(f"{server.url}/healthz", timeout=PATIENCE).status_code != 200:  # the slots free again
        assert time.monotonic() < deadline
        time.sleep(0.01)
