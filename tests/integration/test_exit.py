"""A script that tracks events and exits without stop(): atexit delivers them, and the process exits in time.

The server is addressed as http://localhost:PORT, so the name must resolve — at interpreter exit, where no thread
(and so no DNS lookup) may start any more. Runs in a subprocess: exit is the thing under test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from mosaicstack_telemetry.server.runner import ServerThread

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
