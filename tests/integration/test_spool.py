"""The durable spool (``spool_path``) against the real server, on real time: the data path through the file, an
outage longer than memory can hold, the bound, restarts in the same process, and a process killed with ``kill -9``
whose events the next process sends (asyncio and trio; the crash in a subprocess: dying is the thing under test)."""

from __future__ import annotations

import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from mosaicstack_telemetry import DropReason, TelemetryClient
from mosaicstack_telemetry._backlog import WRITE_CHUNK
from mosaicstack_telemetry._spool import SUFFIX, Spool
from mosaicstack_telemetry._wire import dumps
from mosaicstack_telemetry.server.runner import ServerThread

from .conftest import assert_accounted, config_for, events_for, stored


async def wait_until(
    condition: Callable[[], bool], seconds: float = 15.0, *, client: TelemetryClient | None = None
) -> None:
    with anyio.move_on_after(seconds):
        while not condition():
            await anyio.sleep(0.02)
        return
    raise AssertionError(f"not reached in {seconds} s" + (f": {client.stats}" if client else ""))


def spool_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def leftovers(directory: Path) -> list[Path]:
    """Every file in the spool directory (a clean stop leaves none: no empty spool, no WAL)."""
    return sorted(directory.iterdir())


async def test_events_pass_through_the_spool_file_and_a_clean_stop_leaves_no_file(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    events = events_for(server, 250)
    async with TelemetryClient(config_for(server, spool_path=tmp_path)) as client:
        assert len(spool_files(tmp_path)) == 1
        for event in events:
            client.track(event)
        await wait_until(lambda: client.stats.sent == 250)
    assert 250 == len(stored(server, events))
    assert client.stats.dropped == {}
    assert leftovers(tmp_path) == []
    assert_accounted(client, caplog, server)


async def test_a_burst_larger_than_one_spool_write_is_flushed_whole(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A flush moves everything the intake holds to the spool, a chunk per commit, before it sends."""
    events = events_for(server, WRITE_CHUNK * 2 + 500)
    config = config_for(server, spool_path=tmp_path, max_queue_size=len(events), submit_interval_seconds=300.0)
    async with TelemetryClient(config) as client:
        for event in events:
            client.track(event)
        await client.flush_async()
        assert client.stats.sent == len(events)
    assert len(events) == len(stored(server, events))
    assert_accounted(client, caplog, server)


async def test_an_outage_longer_than_memory_holds_loses_nothing_and_drains_when_the_server_returns(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """2,000 events against a 100-event memory queue while every request fails: without the spool 1,900 would be
    evicted; with it memory stays at the intake's bound, the file holds the backlog, the client backs off (one
    attempt at a time, not one per batch), and when the server returns the backlog leaves in full batches."""
    server.faults.fail_next(10**6, 503)
    events = events_for(server, 2000)
    config = config_for(server, spool_path=tmp_path, max_queue_size=100, max_retries=0)
    async with TelemetryClient(config) as client:
        for index, event in enumerate(events):
            client.track(event)
            if index % 50 == 0:
                await anyio.sleep(0.025)  # ~2,000 events/s for a second: the writer keeps up, memory stays bounded
            assert client.queue_size <= 100
        await wait_until(lambda: client.stats.queued + client.stats.in_flight == 2000)
        await anyio.sleep(1.0)  # the outage goes on
        during_outage = server.faults.statistics().requests
        assert client.stats.sent == 0
        assert 1 <= during_outage <= 6  # ~2 s of backoff (1 s, then 2 s, with jitter): no request per batch

        server.faults.reset()
        await client.flush_async()
        await wait_until(lambda: client.stats.sent == 2000, seconds=30)
        assert 20 <= server.faults.statistics().requests <= 21  # full batches of 100 (one taken mid-outage at most)
    assert 2000 == len(stored(server, events))
    assert 2000 == server.storage.count_events()
    assert client.stats.dropped == {}
    assert_accounted(client, caplog, server)


async def test_the_spool_keeps_at_most_spool_max_bytes_and_counts_what_it_evicts(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    events = events_for(server, 300)
    size = len(dumps(events[0]))
    server.faults.drop_connection = True
    config = config_for(server, spool_path=tmp_path, spool_max_bytes=100 * size + size // 2, max_retries=0)
    async with TelemetryClient(config) as client:
        for event in events:
            client.track(event)
        await wait_until(lambda: client.stats.dropped.get(DropReason.SPOOL_FULL, 0) >= 150)
        server.faults.drop_connection = False
        await client.flush_async()
        await wait_until(lambda: client.stats.queued + client.stats.in_flight == 0, seconds=30)
    stats = client.stats
    assert stats.sent + stats.dropped[DropReason.SPOOL_FULL] == 300
    assert 100 <= stats.sent <= 100 + 100  # the bound, plus what was in flight when the rest arrived
    assert set(stored(server, events)) >= {str(e.event_id) for e in events[-100:]}  # the newest are kept
    assert "spool full" in caplog.text
    assert_accounted(client, caplog, server)


async def test_a_stop_while_the_server_is_down_keeps_the_events_in_the_spool_for_the_next_start(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    server.faults.drop_connection = True
    events = events_for(server, 40)
    client = TelemetryClient(config_for(server, spool_path=tmp_path, shutdown_timeout_seconds=1.0, max_retries=0))
    async with client:
        for event in events:
            client.track(event)
    assert client.stats.queued == 40
    assert len(spool_files(tmp_path)) == 1  # kept (and still locked by this process)
    assert "they stay in the spool" in caplog.text

    server.faults.drop_connection = False
    async with client:
        await client.flush_async()
    assert 40 == len(stored(server, events))
    assert client.stats.sent == 40
    assert leftovers(tmp_path) == []
    assert_accounted(client, caplog, server)


async def test_a_dead_processes_spool_is_adopted_first_and_replays_count_duplicates_as_delivered(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A process that died after sending but before deleting (the first 10 events) and before sending the rest:
    its file is replayed at the next start — without waiting for the interval — and every event is stored once."""
    events = events_for(server, 30)
    async with TelemetryClient(config_for(server)) as first:
        for event in events[:10]:
            first.track(event)
    dead = Spool(tmp_path, 1 << 20, destination=f"{server.url} {server.instance_id}")
    dead.open()
    dead.append([dumps(event) for event in events])
    dead.close()  # rows left and the lock released: what a killed process leaves

    config = config_for(server, spool_path=tmp_path, submit_interval_seconds=300.0)
    async with TelemetryClient(config) as client:
        await wait_until(lambda: client.stats.sent == 30)
        stats = client.stats
    assert (stats.tracked, stats.recovered, stats.sent, stats.rejected) == (0, 30, 30, 0)
    assert 30 == len(stored(server, events))
    assert 30 == server.storage.count_events()
    assert "adopted 30 unsent events" in caplog.text
    assert_accounted(client, caplog, server)


def test_the_sync_facade_spools_too(server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    events = events_for(server, 120)
    with TelemetryClient(config_for(server, spool_path=str(tmp_path)), sync_backend="trio") as client:
        for event in events:
            client.track(event)
        client.flush()
    assert 120 == len(stored(server, events))
    assert leftovers(tmp_path) == []
    assert_accounted(client, caplog, server)


async def test_an_unusable_spool_path_runs_on_memory_and_says_so(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    events = events_for(server, 5)
    async with TelemetryClient(config_for(server, spool_path=blocker / "spool")) as client:
        for event in events:
            client.track(event)
    assert 5 == len(stored(server, events))
    assert "events are kept in memory only" in caplog.text
    assert_accounted(client, caplog, server)


CRASHING = textwrap.dedent(
    """
    import os, signal, sys, time
    from mosaicstack_telemetry import EventBuilder, TelemetryClient, TelemetryConfig

    url, key, instance_id, spool, backend = sys.argv[1:6]
    client = TelemetryClient(
        TelemetryConfig(server_url=url, api_key=key, instance_id=instance_id, spool_path=spool, max_retries=0),
        sync_backend=backend,
    )
    client.start()
    for index in range(500):
        client.track(EventBuilder(instance_id).duration_ms(index).build())
    deadline = time.monotonic() + 10
    while client._spool.rows < 500 and time.monotonic() < deadline:  # until all are committed to the file
        time.sleep(0.01)
    stats = client.stats
    print(stats.queued + stats.in_flight, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
async def test_events_of_a_process_killed_with_sigkill_are_sent_by_the_next_one(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path, backend: str
) -> None:
    server.faults.fail_next(10**6, 503)
    result = await anyio.run_process(
        [sys.executable, "-c", CRASHING, server.url, server.api_key, str(server.instance_id), str(tmp_path), backend],
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert result.stdout.decode().split() == ["500"]
    assert len(spool_files(tmp_path)) == 1
    assert 0 == server.storage.count_events()

    server.faults.reset()
    async with TelemetryClient(config_for(server, spool_path=tmp_path)) as client:
        await wait_until(lambda: client.stats.sent == 500, client=client)
    assert 500 == server.storage.count_events()
    assert client.stats.recovered == 500
    assert leftovers(tmp_path) == []
    assert_accounted(client, caplog, server)


async def test_a_cancelled_scope_leaves_the_spooled_events_in_the_spool_not_dropped(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The cancelled-scope flush gives up as before (the server hangs), but nothing is counted cancelled: the events
    are in the file, and the next start sends them."""
    server.faults.hang = True
    events = events_for(server, 4)
    client = TelemetryClient(
        config_for(server, spool_path=tmp_path, request_timeout_seconds=10, shutdown_timeout_seconds=10)
    )
    with anyio.move_on_after(0.5):
        async with client:
            for event in events:
                client.track(event)
            await anyio.sleep_forever()
    assert client.stats.dropped == {}
    assert client.stats.queued == 4
    assert_accounted(client, caplog, server)

    server.faults.hang = False
    async with client:
        await client.flush_async()
    assert 4 == len(stored(server, events))
    assert_accounted(client, caplog, server)


NEVER_STOPS = textwrap.dedent(
    """
    import logging, sys
    from mosaicstack_telemetry import EventBuilder, TelemetryClient, TelemetryConfig

    logging.basicConfig(level=logging.WARNING)
    url, key, instance_id, spool = sys.argv[1:5]
    client = TelemetryClient(
        TelemetryConfig(
            server_url=url, api_key=key, instance_id=instance_id, spool_path=spool, shutdown_timeout_seconds=2.0
        )
    )
    client.start()
    for index in range(25):
        client.track(EventBuilder(instance_id).duration_ms(index).build())
    # no stop(): the exit flush runs while the server fails every request
    """
)


async def test_at_interpreter_exit_what_could_not_be_sent_stays_in_the_spool_for_the_next_process(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    server.faults.fail_next(10**6, 503)
    result = await anyio.run_process(
        [sys.executable, "-c", NEVER_STOPS, server.url, server.api_key, str(server.instance_id), str(tmp_path)],
        check=False,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "dropped (exit)" not in stderr
    assert "they stay in the spool" in stderr
    assert 0 == server.storage.count_events()

    server.faults.reset()
    async with TelemetryClient(config_for(server, spool_path=tmp_path)) as client:
        await wait_until(lambda: client.stats.sent == 25, client=client)
    assert client.stats.recovered == 25
    assert 25 == server.storage.count_events()
    assert leftovers(tmp_path) == []
    assert_accounted(client, caplog, server)


async def test_rejected_and_refused_events_leave_the_spool_counted_and_are_never_replayed(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A batch refused for good (400: dropped, non_retryable) and events the server rejects one by one leave the
    file like delivered ones: a later start in the same directory finds nothing to replay."""
    server.faults.fail_next(1, 400)
    server.faults.reject_every_k = 4
    first, second = events_for(server, 10), events_for(server, 20)
    config = config_for(server, spool_path=tmp_path, batch_size=10)
    async with TelemetryClient(config) as client:
        for event in first:
            client.track(event)
        await client.flush_async()  # refused: 400
        for event in second:
            client.track(event)
        await client.flush_async()  # every 4th event rejected
    stats = client.stats
    assert stats.dropped == {DropReason.NON_RETRYABLE: 10}
    assert (stats.sent, stats.rejected) == (15, 5)
    assert leftovers(tmp_path) == []
    assert_accounted(client, caplog, server)

    async with TelemetryClient(config) as later:
        await later.flush_async()
    assert (later.stats.recovered, later.stats.sent) == (0, 0)


async def test_events_the_disk_refuses_are_counted_spool_error(
    server: ServerThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    events = events_for(server, 5)
    async with TelemetryClient(config_for(server, spool_path=tmp_path)) as client:
        client.track(events[0])
        await client.flush_async()
        connection = client._spool._connection if client._spool is not None else None
        assert connection is not None
        connection.execute("DROP TABLE events")  # every write from now on fails, as on a full or broken disk
        for event in events[1:]:
            client.track(event)
        await wait_until(lambda: client.stats.dropped.get(DropReason.SPOOL_ERROR) == 4, client=client)
    assert client.stats.sent == 1
    assert "could not write" in caplog.text
    assert_accounted(client, caplog, server)
