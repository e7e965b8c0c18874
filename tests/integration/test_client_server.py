"""The client against the real reference server on loopback, through every fault it can inject, under asyncio
and trio (and the sync facade where the scenario is about threads). Real time: retries wait their backoff."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import anyio
import pytest

from mosaicstack_telemetry import (
    Complexity,
    DropReason,
    PredictionQuery,
    Provider,
    TaskType,
    TelemetryClient,
    TelemetryError,
)
from mosaicstack_telemetry.server.faults import RateLimit
from mosaicstack_telemetry.server.runner import ServerThread

from .conftest import assert_accounted, config_for, events_for, stored


async def test_a_thousand_events_arrive_exactly_in_batches_of_at_most_100(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """1,000 events: the exact set is stored, in ≥ 10 requests (the server refuses > 100 a batch)."""
    events = events_for(server, 1000)
    async with TelemetryClient(config_for(server)) as client:
        for event in events:
            client.track(event)
    assert len(events) == len(stored(server, events))
    assert 1000 == server.storage.count_events()
    assert server.faults.statistics().requests >= 10
    assert (1000, 1000) == (client.stats.tracked, client.stats.sent)
    assert_accounted(client, caplog, server)


async def test_a_503_then_success(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """One 503: retried after a backoff, on_error told once with 'HTTP 503', everything stored."""
    errors: list[TelemetryError] = []
    server.faults.fail_next(1, 503)
    events = events_for(server, 5)
    async with TelemetryClient(config_for(server, on_error=errors.append)) as client:
        for event in events:
            client.track(event)
        with anyio.fail_after(10):
            while client.stats.sent < 5:
                await anyio.sleep(0.05)
    assert 5 == len(stored(server, events))
    assert ["HTTP 503" in str(e) for e in errors] == [True]
    assert 1 == client.stats.retried
    assert_accounted(client, caplog, server)


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
async def test_429_retry_after_is_waited_out(
    server: ServerThread, caplog: pytest.LogCaptureFixture, as_date: bool
) -> None:
    """429 with Retry-After (2 s, as seconds or an HTTP date): the retry comes no sooner."""
    retry_after: float | datetime = 2.0
    if as_date:
        retry_after = datetime.now(timezone.utc) + timedelta(seconds=3)
    server.faults.fail_next(1, 429, retry_after=retry_after)
    events = events_for(server, 3)
    async with TelemetryClient(config_for(server, submit_interval_seconds=0.05)) as client:
        start = anyio.current_time()
        for event in events:
            client.track(event)
        with anyio.fail_after(15):
            while client.stats.sent < 3:
                await anyio.sleep(0.05)
        waited = anyio.current_time() - start
    assert waited >= 1.5
    assert 3 == len(stored(server, events))
    assert_accounted(client, caplog, server)


@pytest.mark.parametrize("status", [401, 403, 422])
async def test_refusals_are_not_retried(server: ServerThread, caplog: pytest.LogCaptureFixture, status: int) -> None:
    """401/403/422: one attempt, on_error told, the batch counted non_retryable."""
    errors: list[TelemetryError] = []
    server.faults.fail_next(1, status)
    events = events_for(server, 4)
    async with TelemetryClient(config_for(server, on_error=errors.append)) as client:
        for event in events:
            client.track(event)
        await client.flush_async()
    assert 1 == server.faults.statistics().requests
    assert [f"HTTP {status}" in str(e) for e in errors] == [True]
    assert {DropReason.NON_RETRYABLE: 4} == dict(client.stats.dropped)
    assert_accounted(client, caplog, server)


async def test_a_wrong_api_key_is_a_403_not_retried(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """A key the server does not know: 403 from the real auth check, dropped, never retried."""
    errors: list[TelemetryError] = []
    config = config_for(server, api_key="f" * 64, on_error=errors.append)
    async with TelemetryClient(config) as client:
        client.track(events_for(server, 1)[0])
        await client.flush_async()
    assert ["HTTP 403" in str(e) for e in errors] == [True]
    assert {DropReason.NON_RETRYABLE: 1} == dict(client.stats.dropped)
    assert "f" * 64 not in caplog.text
    assert_accounted(client, caplog, server)


async def test_5xx_forever_is_bounded_and_counted(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """A server answering 500 to everything: a bounded number of attempts, the events kept queued, stop bounded."""
    server.faults.fail_next(10_000, 500)
    events = events_for(server, 10)
    client = TelemetryClient(config_for(server, max_retries=1, shutdown_timeout_seconds=2.0))
    async with client:
        for event in events:
            client.track(event)
        await anyio.sleep(3)
        start = anyio.current_time()
    assert anyio.current_time() - start < 4
    assert server.faults.statistics().requests <= 8
    assert 0 == client.stats.sent
    assert 10 == client.stats.queued
    assert client.stats.failed_batches >= 1
    assert_accounted(client, caplog, server)


async def test_a_slow_server_within_the_deadline(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """Replies delayed 0.5 s (deadline 2 s): delivered, nothing retried."""
    server.faults.delay = 0.5
    events = events_for(server, 20)
    async with TelemetryClient(config_for(server)) as client:
        for event in events:
            client.track(event)
    assert 20 == len(stored(server, events))
    assert 0 == client.stats.retried
    assert_accounted(client, caplog, server)


async def test_a_hanging_server_is_cut_by_the_deadline_and_stop_is_bounded(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """Every request hangs: each attempt ends at request_timeout_seconds; stop returns within its deadline."""
    server.faults.hang = True
    events = events_for(server, 3)
    client = TelemetryClient(config_for(server, request_timeout_seconds=0.5, shutdown_timeout_seconds=1.5))
    await client.start_async()
    for event in events:
        client.track(event)
    start = anyio.current_time()
    await client.stop_async()
    assert anyio.current_time() - start < 2.5
    assert 3 == client.stats.queued
    assert_accounted(client, caplog, server)


async def test_a_connection_dropped_mid_reply_is_retried_and_the_duplicates_count_as_delivered(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """The server stores the batch, then cuts its reply: the retry comes back 'duplicate', counted as sent."""
    server.faults.drop_next(1)
    events = events_for(server, 7)
    async with TelemetryClient(config_for(server)) as client:
        for event in events:
            client.track(event)
        with anyio.fail_after(10):
            while client.stats.sent < 7:
                await anyio.sleep(0.05)
    assert 7 == server.storage.count_events()
    assert (7, 0, 1) == (client.stats.sent, client.stats.rejected, client.stats.retried)
    assert 7 == client.stats.duplicates  # the cut reply's batch, stored the first time: every event comes back so
    assert_accounted(client, caplog, server)


async def test_a_malformed_reply_body_counts_the_batch_as_sent(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A 200 whose body is not JSON: the server took the batch; the client logs it and counts it sent."""
    server.faults.garble_next(1)
    events = events_for(server, 6)
    async with TelemetryClient(config_for(server)) as client:
        for event in events:
            client.track(event)
        await client.flush_async()
    assert 6 == len(stored(server, events))
    assert (6, 0) == (client.stats.sent, client.stats.retried)
    assert "unreadable body" in caplog.text
    assert_accounted(client, caplog, server)


async def test_partial_rejection_and_duplicates(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """Every 3rd event rejected by the server; an event tracked twice is a duplicate, counted as delivered."""
    server.faults.reject_every_k = 3
    events = events_for(server, 9)
    async with TelemetryClient(config_for(server)) as client:
        for event in events:
            client.track(event)
        await client.flush_async()
        server.faults.reject_every_k = 0
        client.track(events[0])  # already stored: the server says duplicate
        await client.flush_async()
    stats = client.stats
    assert (7, 3, 1) == (stats.sent, stats.rejected, stats.duplicates)
    assert 6 == server.storage.count_events()
    assert_accounted(client, caplog, server)


async def test_overflow_keeps_the_newest(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """max_queue_size=10, 25 tracked before start: the 10 newest are stored, 15 counted as overflow."""
    events = events_for(server, 25)
    client = TelemetryClient(config_for(server, max_queue_size=10))
    for event in events:
        client.track(event)
    async with client:
        await client.flush_async()
    assert {str(e.event_id) for e in events[15:]} == stored(server, events)
    assert {DropReason.OVERFLOW: 15} == dict(client.stats.dropped)
    assert_accounted(client, caplog, server)


async def test_a_cancelled_scope_ends_the_client_and_counts_what_it_could_not_send(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelled around `async with client` while the server hangs: out within ~2 s, leftovers counted cancelled."""
    server.faults.hang = True
    client = TelemetryClient(config_for(server, request_timeout_seconds=10, shutdown_timeout_seconds=10))
    start = anyio.current_time()
    with anyio.move_on_after(0.5):
        async with client:
            for event in events_for(server, 4):
                client.track(event)
            await anyio.sleep_forever()
    assert anyio.current_time() - start < 0.5 + 2 + 1
    assert {DropReason.CANCELLED: 4} == dict(client.stats.dropped)
    assert_accounted(client, caplog, server)


async def test_restart_after_stop(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """One client, two lifespans (as the seeds' FastAPI example keeps a module-level client)."""
    events = events_for(server, 4)
    client = TelemetryClient(config_for(server))
    for lifespan in range(2):
        await client.start_async()
        client.track(events[2 * lifespan])
        client.track(events[2 * lifespan + 1])
        await client.stop_async()
    assert 4 == len(stored(server, events))
    assert_accounted(client, caplog, server)


async def test_an_outage_backs_off_instead_of_storming(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """4 s of 503s with a 0.1 s interval: a handful of attempts (backoff grows), then delivery once it is back."""
    server.faults.fail_next(10_000, 503)
    events = events_for(server, 5)
    async with TelemetryClient(config_for(server, submit_interval_seconds=0.1)) as client:
        for event in events:
            client.track(event)
        await anyio.sleep(4)
        attempts = server.faults.statistics().requests
        assert attempts <= 5  # 1 + 2 + 4 s of backoff fill the window; no request storm
        server.faults.reset()
        with anyio.fail_after(20):
            while client.stats.sent < 5:
                await anyio.sleep(0.1)
    assert 5 == len(stored(server, events))
    assert_accounted(client, caplog, server)


async def test_a_rate_limit_is_respected(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """A 1-request-per-second limit answered with 429 + Retry-After: everything still arrives, with 429s seen."""
    server.faults.rate_limit = RateLimit(requests=1, per_seconds=1.0)
    events = events_for(server, 200)
    async with TelemetryClient(config_for(server, batch_size=50)) as client:
        for event in events:
            client.track(event)
        with anyio.fail_after(20):
            while client.stats.sent < 200:
                await anyio.sleep(0.1)
    assert 200 == len(stored(server, events))
    assert client.stats.retried >= 1
    assert_accounted(client, caplog, server)


async def test_predictions_read_back_from_the_server(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """Events in, predictions out: the stored events' combination gets a prediction with their percentiles."""
    events = events_for(server, 40)
    query = PredictionQuery(
        task_type=TaskType.UNKNOWN,
        model="claude-sonnet-4-20250514",
        provider=Provider.UNKNOWN,
        complexity=Complexity.MEDIUM,
    )
    async with TelemetryClient(config_for(server)) as client:
        for event in events:
            client.track(event)
        await client.flush_async()
        await client.refresh_predictions([query])
    response = client.get_prediction(query)
    assert response is not None
    assert response.prediction is not None
    assert (40, 0, "medium") == (
        response.metadata.sample_size,
        response.metadata.fallback_level,
        response.metadata.confidence,
    )
    assert 19 == response.prediction.duration_ms["median"]  # durations 0..39, nearest-rank median
    assert_accounted(client, caplog, server)


def test_eight_threads_through_the_sync_facade(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """8 threads × 500 events with the client on its own thread: all 4,000 stored exactly once."""
    batches = [events_for(server, 500) for _ in range(8)]
    barrier = threading.Barrier(8)
    with TelemetryClient(config_for(server, max_queue_size=4_000)) as client:

        def worker(events: list[object]) -> None:
            barrier.wait()
            for event in events:
                client.track(event)  # type: ignore[arg-type]

        threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert 4000 == server.storage.count_events()
    assert 4000 == client.stats.sent
    assert_accounted(client, caplog, server)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_facade_with_a_503(server: ServerThread, caplog: pytest.LogCaptureFixture, backend: str) -> None:
    """The sync facade on either backend rides out a 503 and delivers on stop."""
    server.faults.fail_next(1, 503)
    events = events_for(server, 10)
    with TelemetryClient(config_for(server), sync_backend=backend) as client:  # type: ignore[arg-type]
        for event in events:
            client.track(event)
    assert 10 == len(stored(server, events))
    assert_accounted(client, caplog, server)
