"""A script that tracks events and exits without stop(): atexit delivers them, and the process exits in time.

The server is addressed as http://localhost:PORT, so the name must resolve — at interpreter exit, where no thread
(and so no DNS lookup) may start any more. Runs in a subprocess: exit is the thing under test.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time

import anyio
import pytest

from mosaicstack_telemetry import EventBuilder, TelemetryClient
from mosaicstack_telemetry.server.runner import ServerThread
from tests.unit.fake_server import INSTANCE_ID, FakeServer
from tests.unit.fake_server import config as fake_config

SCRIPT = textwrap.dedent(
    """
    import logging
    import sys
    from mosaicstack_telemetry import EventBuilder, TelemetryClient, TelemetryConfig

    logging.basicConfig(level=logging.WARNING)
    url, key, instance_id, backend = sys.argv[1:5]
    client = TelemetryClient(
        TelemetryConfig(server_url=url, api_key=key, instance_id=instance_id, shutdown_timeout_seconds=5.0),
        sync_backend=backend,
    )
    client.start()
    for index in range(25):
        client.track(EventBuilder(instance_id).duration_ms(index).build())
    print("tracked", flush=True)
    # no client.stop(): the default 300 s interval has not come; only the exit flush can send these
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_events_tracked_by_a_script_that_never_stops_are_delivered_at_exit(server: ServerThread, backend: str) -> None:
    """25 events reach the server through localhost, and the process exits within the shutdown deadline."""
    url = f"http://localhost:{server.port}"
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own script, loopback only
        [sys.executable, "-c", SCRIPT, url, server.api_key, str(server.instance_id), backend],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert 0 == result.returncode, result.stderr
    assert "tracked" in result.stdout
    assert time.monotonic() - started < 15
    assert 25 == server.storage.count_events()
    assert "Traceback" not in result.stderr


def test_a_script_whose_server_is_down_still_exits_within_the_deadline(server: ServerThread) -> None:
    """The server hangs every request: the exit flush gives up at shutdown_timeout_seconds, never hangs."""
    server.faults.hang = True
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own script, loopback only
        [sys.executable, "-c", SCRIPT, server.url, server.api_key, str(server.instance_id), "asyncio"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert 0 == result.returncode, result.stderr
    assert time.monotonic() - started < 5 + 8
    assert "dropped (exit)" in result.stderr


# An async program that starts a client and returns from main() without stopping it (it once delivered nothing).
# The client is not kept anywhere: it must reach its flushes even after main()'s frame is gone. What could not be
# sent is reported by the client's own warning (logging is configured, as an application would).
ASYNC_SCRIPT = textwrap.dedent(
    """
    import logging
    import sys
    from mosaicstack_telemetry import EventBuilder, TelemetryClient, TelemetryConfig

    logging.basicConfig(level=logging.WARNING)
    url, key, instance_id, runner, shutdown = sys.argv[1:6]

    async def main():
        config = TelemetryConfig(
            server_url=url, api_key=key, instance_id=instance_id, shutdown_timeout_seconds=float(shutdown)
        )
        client = TelemetryClient(config)
        await client.start_async()
        for index in range(300):
            client.track(EventBuilder(instance_id).duration_ms(index).build())
        print("tracked", flush=True)
        # no stop, no async with: returning ends the run around the client's core

    if runner == "asyncio":
        import asyncio
        asyncio.run(main())
    else:
        import trio
        trio.run(main)
    """
)

INSTANCE = "6a1b2c3d-0000-4000-8000-000000000001"


def run_async_script(url: str, key: str, instance_id: str, runner: str, shutdown: float) -> tuple[str, str, float]:
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own script, loopback only
        [sys.executable, "-c", ASYNC_SCRIPT, url, key, instance_id, runner, str(shutdown)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 0 == result.returncode, result.stderr
    assert "tracked" in result.stdout
    assert "Traceback" not in result.stderr
    return result.stdout, result.stderr, time.monotonic() - started


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_an_async_client_nobody_stopped_delivers_when_its_run_ends(server: ServerThread, runner: str) -> None:
    """asyncio.run / trio.run end around the core: its last flush on that loop sends all 300, and the process exits
    at once (no exit flush needed)."""
    _, stderr, elapsed = run_async_script(
        f"http://localhost:{server.port}", server.api_key, str(server.instance_id), runner, shutdown=10.0
    )
    assert 300 == server.storage.count_events()
    assert elapsed < 8, elapsed  # interpreter start and imports included; nothing waits on a deadline
    assert "dropped" not in stderr


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_an_async_client_nobody_stopped_with_the_server_down_exits_promptly_and_counts_the_loss(runner: str) -> None:
    """Nothing listens: the loop's last flush and the exit flush both fail fast; all 300 are counted `exit`."""
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, stderr, elapsed = run_async_script(f"http://127.0.0.1:{port}", "a" * 64, INSTANCE, runner, shutdown=5.0)
    assert "300 unsent events dropped (exit)" in stderr
    assert elapsed < 5 + 5, elapsed


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_an_async_client_nobody_stopped_with_a_hanging_server_exits_within_the_deadline(
    server: ServerThread, runner: str
) -> None:
    """The server never answers: the loop's last flush gives up after 2 s, the exit flush after the rest of the
    4 s budget; the process is gone within shutdown_timeout_seconds (plus start-up), the 300 counted `exit`."""
    server.faults.hang = True
    _, stderr, elapsed = run_async_script(server.url, server.api_key, str(server.instance_id), runner, shutdown=4.0)
    assert 0 == server.storage.count_events()
    assert "300 unsent events dropped (exit)" in stderr
    assert 4 <= elapsed < 4 + 5, elapsed


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_what_the_loops_last_flush_could_not_send_goes_out_on_a_fresh_loop_at_exit(runner: str) -> None:
    """In-process, the two stages apart: the run ends around the core while the server refuses (4 attempts, the
    events stay queued, not counted); the exit handler then sends them on a fresh loop of the same kind."""
    server = FakeServer(503, 503, 503, 503)
    client = TelemetryClient(fake_config(shutdown_timeout_seconds=5), transport=server.transport)

    async def main() -> None:
        await client.start_async()
        for _ in range(5):
            client.track(EventBuilder(INSTANCE_ID).build())

    anyio.run(main, backend=runner)
    assert not client.is_running
    assert (4, 5, {}) == (len(server.requests), client.stats.queued, dict(client.stats.dropped))
    client._core._flush_at_exit()
    assert 5 == len(server.delivered)
    stats = client.stats
    assert (5, 0, {}) == (stats.sent, stats.queued, dict(stats.dropped))
    assert not client.is_running
