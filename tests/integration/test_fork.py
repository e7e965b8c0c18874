"""Fork safety: a client forked while another thread tracks — by os.fork and by multiprocessing's fork start
method — resets itself in the child, which sends its own events on a thread of its own; the parent sends its
own. Every event arrives exactly once and nothing hangs. Real processes, real time, the real server."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryClient
from mosaicstack_telemetry.server.runner import ServerThread

from .conftest import config_for, events_for

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # 3.12+ warns that forking a multi-threaded process may deadlock the child: that is what is under test.
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]


def wait_for_exit(pid: int, seconds: float = 30.0) -> int:
    """The child's exit status; kills it (and fails) if it hangs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail(f"forked child {pid} hung")


def child_sends(client: TelemetryClient, events: list[TaskCompletionEvent]) -> None:
    """What the child does: track its own events, then stop (which flushes them)."""
    for event in events:
        client.track(event)
    client.stop()
    stats = client.stats
    if (stats.tracked, stats.sent) != (len(events), len(events)):
        sys.stderr.write(f"child stats: {stats}\n")
        os._exit(3)


def tracking_thread(client: TelemetryClient, events: list[TaskCompletionEvent]) -> threading.Thread:
    def run() -> None:
        for event in events:
            client.track(event)
            time.sleep(0.0002)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def assert_exactly_once(server: ServerThread, *groups: list[TaskCompletionEvent]) -> None:
    expected = [event for group in groups for event in group]
    assert len(expected) == server.storage.count_events()
    assert all(server.storage.fetch_event(event.instance_id, event.event_id) is not None for event in expected)


#: Every scenario runs without and with the spool: a forked child lets go of the parent's spool file and opens its own.
SPOOL = pytest.mark.parametrize("spooled", [False, True], ids=["memory", "spool"])


def spool_path(tmp_path: Path, spooled: bool) -> Path | None:
    return tmp_path / "spool" if spooled else None


def assert_no_spool_left(tmp_path: Path) -> None:
    """Every process stopped with nothing unsent: each deleted its own file, none touched another's."""
    directory = tmp_path / "spool"
    assert not directory.exists() or sorted(directory.iterdir()) == []


@SPOOL
def test_os_fork_while_another_thread_tracks(server: ServerThread, tmp_path: Path, spooled: bool) -> None:
    """os.fork() mid-burst: the parent's and the child's events each arrive exactly once."""
    parent_events, child_events = events_for(server, 400), events_for(server, 150)
    client = TelemetryClient(config_for(server, submit_interval_seconds=0.05, spool_path=spool_path(tmp_path, spooled)))
    client.start()
    tracker = tracking_thread(client, parent_events)
    time.sleep(0.02)
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            child_sends(client, child_events)
        except BaseException:
            traceback.print_exc()
            code = 2
        os._exit(code)
    tracker.join()
    status = wait_for_exit(pid)
    client.stop()
    assert 0 == status
    assert_exactly_once(server, parent_events, child_events)
    assert 400 == client.stats.sent
    assert_no_spool_left(tmp_path)


@SPOOL
def test_multiprocessing_fork_workers(server: ServerThread, tmp_path: Path, spooled: bool) -> None:
    """Two multiprocessing workers (fork start method) send their own events; the parent keeps sending its own."""
    parent_events = events_for(server, 200)
    worker_events = [events_for(server, 100), events_for(server, 100)]
    client = TelemetryClient(config_for(server, submit_interval_seconds=0.05, spool_path=spool_path(tmp_path, spooled)))
    client.start()
    tracker = tracking_thread(client, parent_events)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=child_sends, args=(client, events)) for events in worker_events]
    for worker in workers:
        worker.start()
    tracker.join()
    for worker in workers:
        worker.join(30)
        assert 0 == worker.exitcode
    client.stop()
    assert_exactly_once(server, parent_events, *worker_events)
    assert_no_spool_left(tmp_path)


def test_a_client_started_on_a_user_loop_is_reset_but_not_restarted_in_the_child(server: ServerThread) -> None:
    """A forked child of an asyncio app gets an idle client with an empty queue; its own start sends its events."""
    import anyio

    parent_events, child_events = events_for(server, 5), events_for(server, 5)

    async def main() -> None:
        async with TelemetryClient(config_for(server)) as client:
            for event in parent_events:
                client.track(event)
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    assert not client.is_running
                    assert 0 == client.queue_size
                    child_sends_with_own_start(client, child_events)
                except BaseException:
                    traceback.print_exc()
                    code = 2
                os._exit(code)
            assert 0 == await anyio.to_thread.run_sync(wait_for_exit, pid)

    anyio.run(main)
    assert_exactly_once(server, parent_events, child_events)


def child_sends_with_own_start(client: TelemetryClient, events: list[TaskCompletionEvent]) -> None:
    with client:
        for event in events:
            client.track(event)


def child_tracks_and_ends_without_stop(client: TelemetryClient, events: list[TaskCompletionEvent]) -> None:
    """A pool worker that never stops its client: multiprocessing ends it with os._exit (no exit handlers)."""
    for event in events:
        client.track(event)
    deadline = time.monotonic() + 10
    while client._spool is not None and client._spool.rows < len(events) and time.monotonic() < deadline:
        time.sleep(0.01)  # the server is failing: the events wait in this child's own spool file


def test_a_forked_worker_that_ends_without_stop_leaves_its_events_to_the_next_start(
    server: ServerThread, tmp_path: Path
) -> None:
    """With the spool, what a multiprocessing worker never sent is not lost: the next client started on the same
    directory — here the parent's, restarted — adopts the worker's file and sends it."""
    server.faults.fail_next(10**6, 503)
    worker_events = events_for(server, 50)
    client = TelemetryClient(config_for(server, spool_path=tmp_path / "spool", max_retries=0))
    client.start()
    worker = multiprocessing.get_context("fork").Process(
        target=child_tracks_and_ends_without_stop, args=(client, worker_events)
    )
    worker.start()
    worker.join(30)
    assert 0 == worker.exitcode
    assert len(list((tmp_path / "spool").glob("*.spool"))) == 2  # the parent's and the dead worker's
    client.stop()  # the parent had nothing unsent: its own file goes

    server.faults.reset()
    client.start()
    client.flush()
    deadline = time.monotonic() + 15
    while client.stats.sent < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    client.stop()
    assert (client.stats.recovered, client.stats.sent) == (50, 50)
    assert_exactly_once(server, worker_events)
    assert_no_spool_left(tmp_path)


def test_a_changed_process_id_alone_resets_the_client(server: ServerThread) -> None:
    """The fallback for servers that fork without running at-fork hooks: track() sees that the process id the
    client recorded is not its own, resets as a forked child would, and starts a new thread of its own."""
    client = TelemetryClient(config_for(server, submit_interval_seconds=0.05))
    client.start()
    before = events_for(server, 2)
    for event in before:
        client.track(event)
    client.flush()
    parent_thread, parent_engine = client._core.thread, client._core.live_engine()
    assert parent_thread is not None
    parent_portal = parent_thread.portal
    assert parent_portal is not None
    assert parent_engine is not None
    client._pid = -1  # as a child sees it when no hook ran: the recorded pid is its parent's

    after = events_for(server, 3)
    for event in after:
        client.track(event)
    client.stop()

    assert client._pid == os.getpid()
    assert client._core.thread is None  # the new thread it started is stopped ...
    assert parent_thread.is_alive()  # ... and the "parent's" was never touched by the reset
    assert (client.stats.tracked, client.stats.sent) == (3, 3)  # fresh counters: the child's own events
    assert_exactly_once(server, before, after)
    parent_portal.call(parent_engine.stop, 1.0)  # this process plays both parts: end the "parent's" core too
    parent_portal.call(parent_portal.stop)
    parent_thread.join(5)
    assert not parent_thread.is_alive()
