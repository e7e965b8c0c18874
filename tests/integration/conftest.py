"""Integration fixtures: the real reference server on 127.0.0.1, a config pointing at it, and the checks every
scenario ends with (the accounting identity, the api key absent from every log line). Real time throughout."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from mosaicstack_telemetry import EventBuilder, TaskCompletionEvent, TelemetryClient, TelemetryConfig
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread


@pytest.fixture
def server() -> Iterator[ServerThread]:
    """A reference server of this test's own: in-memory SQLite, one api key, no faults yet."""
    with run_in_thread() as running:
        yield running


@pytest.fixture(autouse=True)
def _capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def config_for(server: ServerThread, **overrides: Any) -> TelemetryConfig:
    values: dict[str, Any] = {
        "server_url": server.url,
        "api_key": server.api_key,
        "instance_id": str(server.instance_id),
        "submit_interval_seconds": 0.2,
        "request_timeout_seconds": 2.0,
        "shutdown_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return TelemetryConfig(**values)


def events_for(server: ServerThread, count: int) -> list[TaskCompletionEvent]:
    builder = EventBuilder(instance_id=server.instance_id).model("claude-sonnet-4-20250514")
    return [builder.duration_ms(index).build() for index in range(count)]


def assert_accounted(client: TelemetryClient, caplog: pytest.LogCaptureFixture, server: ServerThread) -> None:
    """Every tracked event is in exactly one counter, and no log line carries the api key."""
    stats = client.stats
    settled = stats.sent + stats.rejected + stats.dropped_total + stats.queued + stats.in_flight
    assert stats.tracked + stats.recovered == settled, stats
    assert stats.balanced
    leaked = [record.getMessage() for record in caplog.records if server.api_key in record.getMessage()]
    assert [] == leaked


def stored(server: ServerThread, events: list[TaskCompletionEvent]) -> set[str]:
    """The ids of ``events`` the server has stored."""
    return {str(e.event_id) for e in events if server.storage.fetch_event(e.instance_id, e.event_id) is not None}
