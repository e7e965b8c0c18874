"""No single request stalls the others: large bodies are parsed on worker threads behind their own limiter.

Real threads and a real server; the test waits for states (with deadlines), it never times anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mosaicstack_telemetry._protocol import EVENTS_PATH
from mosaicstack_telemetry.server import app as app_module
from mosaicstack_telemetry.server.app import INLINE_PARSE_BYTES, PARSE_CONCURRENCY
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread

from ._server_support import wire_event


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.005)


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with run_in_thread() as running:
        yield running


def test_small_bodies_parse_on_the_loop_large_ones_on_workers(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    original = app_module._parse_events

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args)

    monkeypatch.setattr(app_module, "_parse_events", recording)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    small = {"events": [wire_event(server.instance_id)]}
    large = {"events": [wire_event(server.instance_id, model="m" * 100) for _ in range(100)]}
    assert len(httpx.Request("POST", "/", json=large).read()) > INLINE_PARSE_BYTES
    with httpx.Client(base_url=server.url, headers=headers) as http:
        assert 1 == http.post(EVENTS_PATH, json=small).json()["accepted"]
        assert 100 == http.post(EVENTS_PATH, json=large).json()["accepted"]
    loop_thread = f"reference-server-{server.port}"
    assert loop_thread == threads[0]
    assert loop_thread != threads[1]


def test_parsing_never_holds_the_loop_or_every_worker(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large bodies beyond the parse limiter's capacity wait for it; meanwhile /healthz and small posts are served."""
    release = threading.Event()
    original = app_module._parse_events

    def slow(*args: Any) -> Any:
        if len(args[0]) > INLINE_PARSE_BYTES:
            release.wait(20)
        return original(*args)

    monkeypatch.setattr(app_module, "_parse_events", slow)
    limiter = server.app.state.parse_limiter
    headers = {"Authorization": f"Bearer {server.api_key}"}
    large = {"events": [wire_event(server.instance_id, model="m" * 100) for _ in range(100)]}
    statuses: list[int] = []

    def post_large() -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            statuses.append(http.post(EVENTS_PATH, json=large).status_code)

    posters = [threading.Thread(target=post_large) for _ in range(PARSE_CONCURRENCY + 1)]
    for thread in posters:
        thread.start()
    try:
        wait_for(lambda: limiter.statistics().borrowed_tokens == PARSE_CONCURRENCY)
        wait_for(lambda: limiter.statistics().tasks_waiting == 1)
        with httpx.Client(base_url=server.url, headers=headers, timeout=5) as http:
            assert 200 == http.get("/healthz").status_code
            assert 1 == http.post(EVENTS_PATH, json={"events": [wire_event(server.instance_id)]}).json()["accepted"]
    finally:
        release.set()
        for thread in posters:
            thread.join(30)
    assert [200] * (PARSE_CONCURRENCY + 1) == statuses


def test_a_gate_list_over_16_is_rejected_by_count(server: ServerThread) -> None:
    """100,000 gates in a 700 KB body: the event is rejected by its count, the request answers 200."""
    gates = ["lint", "test"] * 50_000
    events = [wire_event(server.instance_id, quality_gates_run=gates), wire_event(server.instance_id)]
    reply = httpx.post(
        f"{server.url}{EVENTS_PATH}",
        json={"events": events},
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    ).json()
    assert ["rejected", "accepted"] == [result["status"] for result in reply["results"]]
    assert reply["results"][0]["error"].endswith("has 100000 items, expected at most 16")
