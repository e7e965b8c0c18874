"""``flush(timeout)`` / ``flush_async(timeout)``: whether everything tracked before the call was settled, on virtual
time under asyncio and trio."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import httpx
import pytest

from mosaicstack_telemetry import DropReason, TelemetryClient
from tests.unit.fake_server import FakeServer, config
from tests.unit.test_engine import assert_balanced, client_for, event


async def test_a_flush_that_delivers_everything_returns_true() -> None:
    """250 events, three batches: all sent before the flush returns True."""
    server = FakeServer()
    async with client_for(server) as client:
        for _ in range(250):
            client.track(event())
        assert await client.flush_async() is True
        assert 250 == client.stats.sent
        assert 0 == client.stats.queued + client.stats.in_flight


async def test_rejected_and_refused_events_are_settled_too() -> None:
    """Events the server rejects one by one, or a batch refused for good (400), are settled: the flush is True."""
    server = FakeServer(202, 400, verdict=lambda wire: "bad" if wire["task_duration_ms"] == 1 else None)
    async with client_for(server) as client:
        client.track(event())
        client.track(event().model_copy(update={"task_duration_ms": 1}))
        assert await client.flush_async() is True
        client.track(event())
        assert await client.flush_async() is True
    stats = client.stats
    assert (1, 1, {DropReason.NON_RETRYABLE: 1}) == (stats.sent, stats.rejected, dict(stats.dropped))
    assert_balanced(client)


async def test_during_an_outage_a_flush_makes_one_attempt_per_batch_then_returns_false() -> None:
    """Every request fails: the flush tries once (not 1 + max_retries times) and returns False; the events wait."""
    server = FakeServer(*([503] * 20))
    async with client_for(server, max_retries=3, shutdown_timeout_seconds=0.5) as client:
        client.track(event())
        began = anyio.current_time()
        assert await client.flush_async() is False
        assert 1 == len(server.requests)
        assert anyio.current_time() - began < 0.1
        assert (0, 1, 1) == (client.stats.retried, client.stats.failed_batches, client.stats.queued)


async def test_a_flush_that_times_out_returns_false() -> None:
    """The server takes 30 s to answer: a flush with timeout=1 returns False after 1 s; None waits for the answer."""
    server = FakeServer((30.0, 202), (30.0, 202))
    async with client_for(server, request_timeout_seconds=60) as client:
        client.track(event())
        began = anyio.current_time()
        assert await client.flush_async(timeout=1) is False
        assert anyio.current_time() - began == pytest.approx(1, abs=0.1)
        client.track(event())
        assert await client.flush_async(timeout=None) is True
        assert 2 == client.stats.sent


async def test_a_client_that_is_not_running_flushes_true_only_when_nothing_waits() -> None:
    """Never started: True with an empty queue, False with events queued (and nothing is sent)."""
    client = client_for(FakeServer())
    assert await client.flush_async() is True
    assert client.flush() is True
    client.track(event())
    assert await client.flush_async() is False
    assert client.flush(timeout=1) is False
    assert 1 == client.stats.queued


async def test_a_disabled_client_flushes_true() -> None:
    """Disabled: every event was dropped for a counted reason, so nothing is waiting."""
    async with client_for(FakeServer(), enabled=False) as client:
        client.track(event())
        assert await client.flush_async() is True
    assert {DropReason.DISABLED: 1} == dict(client.stats.dropped)


@pytest.mark.parametrize("limit", ["1", True, float("nan"), object()])
async def test_a_timeout_that_is_not_a_number_is_named(limit: Any) -> None:
    """Bad input at the boundary: a TypeError that names the value."""
    client = client_for(FakeServer())
    with pytest.raises(TypeError, match=r"timeout=.* must be a number of seconds or None"):
        await client.flush_async(timeout=limit)
    with pytest.raises(TypeError, match=r"timeout=.* must be a number of seconds or None"):
        client.flush(timeout=limit)


def test_sync_flush_from_another_thread_returns_the_outcome() -> None:
    """The sync facade (own thread, real time): True after delivery, False while the server fails."""
    failing = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if failing.is_set():
            return httpx.Response(503)
        count = len(request.read().split(b'"event_id"')) - 1
        results = [{"event_id": "x", "status": "accepted", "error": None}] * count
        return httpx.Response(202, json={"accepted": count, "rejected": 0, "results": results})

    client = TelemetryClient(
        config(submit_interval_seconds=300, shutdown_timeout_seconds=1),
        transport=httpx.MockTransport(handler),
    )
    with client:
        client.track(event())
        assert client.flush(timeout=5) is True
        failing.set()
        client.track(event())
        assert client.flush(timeout=5) is False
        assert 1 == client.stats.queued
    assert 1 == client.stats.sent


async def test_a_tight_producer_wakes_the_core_once_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """250 events tracked without yielding: one wake (the first event; the rest wait behind the pending wake);
    once the core has looked and re-armed, the next full batch wakes it once more."""
    from mosaicstack_telemetry._backend import LoopHandle

    wakes: list[object] = []
    call_soon = LoopHandle.call_soon

    def counting(self: LoopHandle, func: Any) -> None:
        wakes.append(func)
        call_soon(self, func)

    monkeypatch.setattr(LoopHandle, "call_soon", counting)
    server = FakeServer()
    async with client_for(server, batch_size=100, submit_interval_seconds=300) as client:
        for _ in range(250):
            client.track(event())
        assert 1 == len(wakes)
        await anyio.sleep(0.1)  # the core drains full batches and re-arms
        assert [100, 100] == server.batch_sizes
        for _ in range(100):
            client.track(event())  # 50 + 100 waiting: a full batch again
        assert 2 == len(wakes)
        await anyio.sleep(0.1)
        assert [100, 100, 100] == server.batch_sizes
