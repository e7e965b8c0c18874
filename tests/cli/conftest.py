"""Fixtures of the command-line tests: a reference server on 127.0.0.1 in this process, and simulated events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.cli.workload import simulate
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread


@pytest.fixture
def server() -> Iterator[ServerThread]:
    """A reference server of the test's own: in-memory SQLite, one api key, no faults yet."""
    with run_in_thread() as running:
        yield running


@pytest.fixture
def events(server: ServerThread) -> list[TaskCompletionEvent]:
    """300 simulated task completions of the server key's instance."""
    return simulate(300, seed=11, instance_id=server.instance_id)
