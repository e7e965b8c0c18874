"""The client engine against a scripted server (httpx.MockTransport), on virtual time, under asyncio and trio."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx
import pytest

from mosaicstack_telemetry import (
    DropReason,
    EventBuilder,
    TaskCompletionEvent,
    TelemetryClient,
    TelemetryError,
)
from mosaicstack_telemetry._backoff import MAXIMUM
from tests.unit.fake_server import API_KEY, INSTANCE_ID, FakeServer, config


def event() -> TaskCompletionEvent:
    return EventBuilder(instance_id=INSTANCE_ID).model("m").build()


def client_for(server: FakeServer, **overrides: Any) -> TelemetryClient:
    return TelemetryClient(config(**overrides), transport=server.transport)


def assert_balanced(client: TelemetryClient) -> None:
    stats = client.stats
    assert stats.tracked == (stats.sent + stats.rejected + stats.dropped_total + stats.queued + stats.in_flight), stats


async def test_a_burst_goes_out_in_full_batches_without_waiting_for_the_interval() -> None:
    """250 events with batch_size 100 leave as 100 + 100 at once; the last 50 wait for the interval."""
    server = FakeServer()
    async with client_for(server, batch_size=100, submit_interval_seconds=300) as client:
        start = anyio.current_time()
        for _ in range(250):
            client.track(event())
        await anyio.sleep(1)
        assert [100, 100] == server.batch_sizes
        await anyio.sleep(300)
        assert [100, 100, 50] == server.batch_sizes
        assert server.request_times[2] - start == pytest.approx(300, abs=1.5)
    assert 250 == client.stats.sent
    assert_balanced(client)


async def test_events_wait_for_the_interval_that_starts_with_the_first_event() -> None:
    """A few events are sent submit_interval_seconds after the first of them, not before."""
    server = FakeServer()
    async with client_for(server, submit_interval_seconds=10) as client:
        await anyio.sleep(100)  # an idle client sends nothing
        assert [] == server.requests
        first = anyio.current_time()
        client.track(event())
        await anyio.sleep(5)
        client.track(event())
        await anyio.sleep(4)
        assert [] == server.requests
        await anyio.sleep(2)
        assert [2] == server.batch_sizes
        assert server.request_times[0] - first == pytest.approx(10, abs=0.5)


async def test_request_carries_auth_user_agent_and_the_wire_format() -> None:
    """Bearer auth, the configured User-Agent, JSON content type, POST to /v1/events/batch."""
    server = FakeServer()
    async with client_for(server, user_agent="agent/1") as client:
        client.track(event())
    (request,) = server.requests
    assert "POST" == request.method
    assert "http://telemetry.test/v1/events/batch" == str(request.url)
    assert f"Bearer {API_KEY}" == request.headers["authorization"]
    assert "agent/1" == request.headers["user-agent"]
    assert "application/json" == request.headers["content-type"]
    assert INSTANCE_ID == server.delivered[0]["instance_id"]


async def test_a_503_is_retried_after_a_backoff_and_reported_to_on_error() -> None:
    """503 then 202: one retry about 1-2 s later, on_error called once with 'HTTP 503'."""
    errors: list[TelemetryError] = []
    server = FakeServer(503, 202)
    async with client_for(server, on_error=errors.append, submit_interval_seconds=1) as client:
        client.track(event())
        await anyio.sleep(5)
    assert 2 == len(server.requests)
    assert 1.0 <= server.request_times[1] - server.request_times[0] <= 2.0
    assert 1 == len(errors)
    assert "HTTP 503" in str(errors[0])
    stats = client.stats
    assert (1, 1, 0) == (stats.sent, stats.retried, stats.failed_batches)
    assert_balanced(client)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_client_errors_are_not_retried(status: int) -> None:
    """A 4xx other than 408/429 drops the batch at once: counted non_retryable, on_error called, no retry."""
    errors: list[TelemetryError] = []
    server = FakeServer(status)
    async with client_for(server, on_error=errors.append) as client:
        for _ in range(3):
            client.track(event())
        await client.flush_async()
    assert 1 == len(server.requests)
    assert [f"HTTP {status}" in str(e) for e in errors] == [True]
    assert {DropReason.NON_RETRYABLE: 3} == dict(client.stats.dropped)
    assert_balanced(client)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(status: int) -> None:
    """408, 429 and 5xx are retried until the server answers."""
    server = FakeServer(status, status, 202)
    async with client_for(server) as client:
        client.track(event())
        await client.flush_async()
        await anyio.sleep(10)
    assert 3 == len(server.requests)
    assert 1 == client.stats.sent


@pytest.mark.parametrize("retry_after", ["30", "__http_date__"])
async def test_retry_after_is_honoured_as_a_minimum(retry_after: str) -> None:
    """A 429 asking for 30 s (as seconds or an HTTP date) delays the retry by at least that."""
    if retry_after == "__http_date__":
        from datetime import datetime, timedelta, timezone
        from email.utils import format_datetime

        retry_after = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=31), usegmt=True)
    limited = httpx.Response(429, headers={"Retry-After": retry_after}, json={"detail": "slow down"})
    server = FakeServer(limited, 202)
    async with client_for(server) as client:
        client.track(event())
        with anyio.fail_after(120):
            while not server.delivered:
                await anyio.sleep(1)
    gap = server.request_times[1] - server.request_times[0]
    assert 29.0 <= gap <= 32.5


async def test_garbage_retry_after_falls_back_to_backoff() -> None:
    """An unreadable Retry-After is ignored: the usual 1-2 s backoff applies."""
    limited = httpx.Response(429, headers={"Retry-After": "soon-ish"})
    server = FakeServer(limited, 202)
    async with client_for(server, submit_interval_seconds=1) as client:
        client.track(event())
        with anyio.fail_after(60):
            while not server.delivered:
                await anyio.sleep(0.5)
    assert 1.0 <= server.request_times[1] - server.request_times[0] <= 2.5


async def test_a_failed_cycle_requeues_the_batch_and_backs_off_between_cycles() -> None:
    """max_retries=2: three attempts, then the batch waits in the queue; later it goes out once the server is back."""
    server = FakeServer(*([503] * 3), 202)
    async with client_for(server, max_retries=2, submit_interval_seconds=30) as client:
        for _ in range(5):
            client.track(event())
        await anyio.sleep(31 + 1 + 2 + 2 + 4)  # interval, then three attempts with backoff between
        assert 3 == len(server.requests)
        stats = client.stats
        assert (5, 1, 2) == (stats.queued, stats.failed_batches, stats.retried)
        assert_balanced(client)
        await anyio.sleep(60)
        assert 5 == client.stats.sent
    assert [5, 5, 5, 5] == server.batch_sizes
    assert_balanced(client)


async def test_a_long_outage_backs_off_to_the_cap_without_a_request_storm() -> None:
    """Over a virtual hour of 503s, gaps between attempts grow to the 60 s cap and never shrink back."""
    server = FakeServer(*([503] * 10_000))
    async with client_for(server, submit_interval_seconds=1, shutdown_timeout_seconds=1) as client:
        for _ in range(10):
            client.track(event())
        await anyio.sleep(3600)
        gaps = [b - a for a, b in zip(server.request_times, server.request_times[1:], strict=False)]
        assert len(server.requests) < 3600 / MAXIMUM + 20
        assert max(gaps) <= MAXIMUM + 1.5
        assert gaps[-1] >= MAXIMUM - 0.01
    assert_balanced(client)


async def test_timeouts_and_connection_errors_are_retried() -> None:
    """A request that hangs past request_timeout_seconds, then a refused connection, then success."""
    server = FakeServer("hang", httpx.ConnectError("refused"), 202)
    errors: list[TelemetryError] = []
    async with client_for(
        server, request_timeout_seconds=5, on_error=errors.append, submit_interval_seconds=1
    ) as client:
        client.track(event())
        with anyio.fail_after(60):
            while not server.delivered:
                await anyio.sleep(0.5)
    assert 3 == len(server.requests)
    assert "timed out after 5" in str(errors[0])
    assert "ConnectError" in str(errors[1])
    assert 1 == client.stats.sent


async def test_partial_rejection_and_duplicates_are_counted_apart() -> None:
    """Per-event verdicts: rejected ones are final; a duplicate counts as delivered."""
    verdicts = iter(["duplicate event_id", None, "model: too long", None])
    server = FakeServer(verdict=lambda _event: next(verdicts))
    async with client_for(server) as client:
        for _ in range(4):
            client.track(event())
        await client.flush_async()
    stats = client.stats
    assert (3, 1) == (stats.sent, stats.rejected)
    assert 1 == len(server.requests)
    assert_balanced(client)


async def test_a_malformed_success_body_counts_the_batch_as_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 2xx whose body is not a BatchEventResponse: the server took the batch; logged, counted sent."""
    server = FakeServer(httpx.Response(202, content=b"<html>oops"))
    async with client_for(server) as client:
        client.track(event())
        await client.flush_async()
    assert 1 == client.stats.sent
    assert "unreadable body" in caplog.text


async def test_overflow_keeps_the_newest_and_counts_the_rest() -> None:
    """Tracked before start with max_queue_size=5: the 5 newest of 8 are sent, 3 counted as overflow."""
    server = FakeServer()
    client = client_for(server, max_queue_size=5)
    events = [event() for _ in range(8)]
    for item in events:
        client.track(item)
    async with client:
        await client.flush_async()
    assert [str(e.event_id) for e in events[3:]] == [e["event_id"] for e in server.delivered]
    assert {DropReason.OVERFLOW: 3} == dict(client.stats.dropped)
    assert_balanced(client)


async def test_dry_run_sends_nothing_and_logs_each_batch(caplog: pytest.LogCaptureFixture) -> None:
    """dry_run: no request; '[DRY RUN] Would submit batch of N events to …' logged; counted as sent."""
    caplog.set_level(logging.INFO, logger="mosaicstack_telemetry")
    server = FakeServer()
    async with client_for(server, dry_run=True) as client:
        for _ in range(3):
            client.track(event())
    assert [] == server.requests
    assert "[DRY RUN] Would submit batch of 3 events to http://telemetry.test/v1/events/batch" in caplog.text
    assert 3 == client.stats.sent


async def test_disabled_client_drops_and_starts_nothing() -> None:
    """enabled=False: track() drops (counted), start is a no-op: no engine, no request."""
    server = FakeServer()
    async with client_for(server, enabled=False) as client:
        assert not client.is_running
        client.track(event())
    assert [] == server.requests
    assert {DropReason.DISABLED: 1} == dict(client.stats.dropped)


async def test_an_unusable_server_url_drops_as_invalid_config(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """server_url without http(s): every event is dropped with reason invalid_config, warned about once."""
    server = FakeServer()
    async with client_for(server, server_url="ftp://nowhere") as client:
        client.track(event())
        client.track(event())
    assert {DropReason.INVALID_CONFIG: 2} == dict(client.stats.dropped)
    assert 1 == caplog.text.count("dropping events (invalid_config)")


async def test_track_never_raises_on_garbage() -> None:
    """Passing something that is not an event is counted (invalid_event), never raised."""
    server = FakeServer()
    async with client_for(server) as client:
        client.track({"not": "an event"})  # type: ignore[arg-type]
        client.track(None)  # type: ignore[arg-type]
    assert {DropReason.INVALID_EVENT: 2} == dict(client.stats.dropped)
    assert_balanced(client)


async def test_the_users_exception_comes_out_as_itself() -> None:
    """An error raised inside `async with client` reaches the caller unwrapped, and queued events are flushed."""
    server = FakeServer()
    client = client_for(server)
    with pytest.raises(KeyError):  # noqa: PT012 - the error must come from inside the block
        async with client:
            client.track(event())
            raise KeyError("the user's own bug")
    assert 1 == len(server.delivered)


async def test_a_cancelled_scope_flushes_briefly_then_counts_the_rest_cancelled() -> None:
    """Cancelling around `async with client` against a hanging server: bounded exit, leftovers counted cancelled."""
    server = FakeServer("hang", "hang", "hang", "hang")
    client = client_for(server, request_timeout_seconds=30, shutdown_timeout_seconds=10)
    start = anyio.current_time()
    with anyio.move_on_after(5):
        async with client:
            for _ in range(3):
                client.track(event())
            await anyio.sleep_forever()
    assert anyio.current_time() - start <= 5 + 2 + 0.5
    assert {DropReason.CANCELLED: 3} == dict(client.stats.dropped)
    assert not client.is_running
    assert_balanced(client)


async def test_stop_is_bounded_when_the_server_hangs() -> None:
    """stop_async returns within shutdown_timeout_seconds; the unsent batch stays queued, counted."""
    server = FakeServer(*(["hang"] * 10))
    client = client_for(server, request_timeout_seconds=60, shutdown_timeout_seconds=3)
    await client.start_async()
    client.track(event())
    start = anyio.current_time()
    await client.stop_async()
    assert anyio.current_time() - start <= 3.5
    assert 1 == client.stats.queued
    assert_balanced(client)


async def test_stop_twice_and_stop_without_start_are_no_ops() -> None:
    """Stopping a client that never started, or twice, does nothing."""
    client = client_for(FakeServer())
    await client.stop_async()
    await client.start_async()
    await client.stop_async()
    await client.stop_async()
    assert not client.is_running


async def test_a_stopped_client_starts_again_and_keeps_what_was_tracked_meanwhile() -> None:
    """start → stop → track while stopped → start: the event is sent by the second run."""
    server = FakeServer()
    client = client_for(server)
    async with client:
        client.track(event())
    client.track(event())
    assert 1 == client.queue_size
    async with client:
        await client.flush_async()
    assert 2 == len(server.delivered)


async def test_on_error_exceptions_are_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    """A raising on_error is logged and ignored; the retry still happens."""

    def explode(error: TelemetryError) -> None:
        raise RuntimeError("callback bug")

    server = FakeServer(500, 202)
    async with client_for(server, on_error=explode) as client:
        client.track(event())
        await client.flush_async()
    assert 1 == client.stats.sent
    assert "on_error raised" in caplog.text


async def test_the_api_key_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Across failures, rejections and stop, no log line contains the api key."""
    caplog.set_level(logging.DEBUG)
    server = FakeServer(503, 401, httpx.ConnectError("refused"), 202)
    async with client_for(server) as client:
        for _ in range(3):
            client.track(event())
            await client.flush_async()
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(client.config)


async def test_flush_cuts_a_backoff_pause_short() -> None:
    """While the submitter waits to retry (1 s or more), a flush makes its attempt at once, and it succeeds."""
    server = FakeServer(503, 202)
    async with client_for(server, max_retries=5, submit_interval_seconds=1) as client:
        client.track(event())
        await anyio.sleep(1.1)  # the interval's attempt failed: a backoff pause has begun
        assert 1 == len(server.requests)
        assert await client.flush_async() is True
    assert 2 == len(server.requests)
    assert server.request_times[1] - server.request_times[0] < 0.2


async def test_event_builder_is_preset_with_the_instance_id() -> None:
    """client.event_builder() carries config.instance_id."""
    client = client_for(FakeServer())
    assert INSTANCE_ID == str(client.event_builder().build().instance_id)


async def test_a_full_queue_smaller_than_a_batch_is_sent_at_once() -> None:
    """max_queue_size=5 < batch_size=100: five events are a full batch, sent without waiting for the interval."""
    server = FakeServer()
    async with client_for(server, max_queue_size=5, submit_interval_seconds=300) as client:
        for _ in range(5):
            client.track(event())
        await anyio.sleep(1)
        assert [5] == server.batch_sizes
    assert_balanced(client)


async def test_a_subclass_of_the_event_is_accepted() -> None:
    """track() takes a TaskCompletionEvent subclass too (the slow path), and sends it."""

    class MyEvent(TaskCompletionEvent):
        pass

    server = FakeServer()
    async with client_for(server) as client:
        client.track(MyEvent(**event().model_dump()))
        await client.flush_async()
    assert 1 == len(server.delivered)


async def test_flush_cuts_our_backoff_but_not_the_servers_retry_after() -> None:
    """A flush during a 429's Retry-After: 30 still waits the 30 s the server asked for (no hammering)."""
    limited = httpx.Response(429, headers={"Retry-After": "30"})
    server = FakeServer(limited, 202)
    async with client_for(server, submit_interval_seconds=1) as client:
        client.track(event())
        await anyio.sleep(1.1)  # the interval's attempt was answered 429
        assert await client.flush_async() is True
    assert 2 == len(server.requests)
    assert server.request_times[1] - server.request_times[0] >= 30


def test_bad_constructor_arguments_are_named() -> None:
    """A config that is not a TelemetryConfig, or an unknown sync backend, is refused at construction."""
    with pytest.raises(TypeError, match="config must be a TelemetryConfig, not dict"):
        TelemetryClient({"server_url": "http://x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sync_backend='curio'"):
        TelemetryClient(config(), sync_backend="curio")  # type: ignore[arg-type]


async def test_max_retries_zero_means_one_attempt_per_cycle() -> None:
    """max_retries=0 is honoured (it once fell back to the default 3): one attempt, then the batch waits."""
    server = FakeServer(503, 503, 503, 503)
    async with client_for(server, max_retries=0, submit_interval_seconds=1, shutdown_timeout_seconds=1) as client:
        client.track(event())
        await anyio.sleep(1.5)
        assert 1 == len(server.requests)
        assert (0, 1) == (client.stats.retried, client.stats.failed_batches)


async def test_another_submitters_success_ends_a_backoff_pause() -> None:
    """Two batches in flight at once; the first is answered 503 while the second is still on its way: the retry
    follows the second's success, not a 1-2 s backoff."""
    server = FakeServer((0.1, 503), 0.2)
    async with client_for(server, batch_size=100, submit_interval_seconds=300) as client:
        for _ in range(200):
            client.track(event())
        await anyio.sleep(0.5)
        assert [100, 100, 100] == server.batch_sizes
        assert server.request_times[2] - server.request_times[0] < 0.5
        assert 200 == client.stats.sent


def test_fixing_unusable_numbers_does_not_reapply_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's working copy of the config keeps what the caller set after construction (no second
    __post_init__), while unusable numbers fall back to their defaults."""
    monkeypatch.setenv("MOSAIC_TELEMETRY_ENABLED", "false")
    settings = config(batch_size=0)
    settings.enabled = True  # the caller overrides the environment after construction
    client = TelemetryClient(settings, transport=FakeServer().transport)
    assert client.stats.dropped == {}
    assert (True, 100) == (client._settings.enabled, client._settings.batch_size)


async def test_a_long_outage_keeps_memory_bounded_and_drains_the_backlog_at_once_when_it_ends() -> None:
    """30 virtual minutes of 503s while 10 events/s arrive: the queue stays at max_queue_size (the rest counted as
    overflow), attempts stay near one a minute; when the server is back the backlog leaves in back-to-back batches."""
    server = FakeServer(*([503] * 10_000))
    async with client_for(
        server, max_queue_size=500, submit_interval_seconds=10, shutdown_timeout_seconds=30
    ) as client:
        for _ in range(30 * 60):
            for _ in range(10):
                client.track(event())
            await anyio.sleep(1)
            assert client.queue_size <= 500 + 100  # the queue, plus at most one batch put back
        outage_attempts = len(server.requests)
        assert outage_attempts < 30 + 10  # ~1 a minute at the 60 s cap (plus the climb to it)
        server.script.clear()  # the server is back
        recovered_at = anyio.current_time()
        with anyio.fail_after(120):
            while client.stats.queued:
                await anyio.sleep(0.5)
        drained = [t for t in server.request_times if t >= recovered_at]
        assert drained[-1] - drained[0] < 1.0  # back-to-back, not one batch per interval
        assert client.stats.dropped[DropReason.OVERFLOW] > 0
    assert_balanced(client)


def test_overflow_is_logged_once_per_interval_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    """A burst into a full queue logs one warning with the number evicted, then nothing more until the interval
    (60 s on the injected clock) has passed; the next line counts only what was evicted since."""
    now = [0.0]
    client = TelemetryClient(config(max_queue_size=5), transport=FakeServer().transport, clock=lambda: now[0])
    for _ in range(20):
        client.track(event())
    lines = [r.getMessage() for r in caplog.records if "queue full" in r.getMessage()]
    assert 1 == len(lines)
    assert "1 oldest events dropped since the last report (1 in all)" in lines[0]
    now[0] = 59.0
    for _ in range(10):
        client.track(event())
    assert 1 == sum("queue full" in r.getMessage() for r in caplog.records)
    now[0] = 61.0
    client.track(event())
    lines = [r.getMessage() for r in caplog.records if "queue full" in r.getMessage()]
    assert 2 == len(lines)
    assert "25 oldest events dropped since the last report (26 in all)" in lines[1]
    assert {DropReason.OVERFLOW: 26} == dict(client.stats.dropped)


def test_a_client_nobody_holds_is_freed_without_the_cycle_collector() -> None:
    """No reference cycle keeps a dropped client (and its fork and exit bookkeeping) alive until a gc pass: a
    stale client reset in a forked child once closed a descriptor the child needed."""
    import gc
    import weakref

    gc.disable()
    try:
        client = client_for(FakeServer())
        client.track(event())
        ref = weakref.ref(client)
        del client
        assert ref() is None
    finally:
        gc.enable()
