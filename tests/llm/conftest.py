"""Fixtures of the LLM instrumentation tests: a telemetry fake that keeps what it is given, and fresh counters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryConfig
from mosaicstack_telemetry.llm import reset_stats

INSTANCE_ID = "12345678-1234-4234-8234-123456789abc"


class FakeTelemetry:
    """What the instrumentation uses of a TelemetryClient: ``config`` and ``track()``; keeps the events."""

    def __init__(self) -> None:
        self.config = TelemetryConfig(server_url="http://127.0.0.1:9", api_key="k" * 64, instance_id=INSTANCE_ID)
        self.events: list[TaskCompletionEvent] = []

    def track(self, event: TaskCompletionEvent) -> None:
        self.events.append(event)

    @property
    def event(self) -> TaskCompletionEvent:
        """The one event tracked (fails if there is not exactly one)."""
        assert 1 == len(self.events), self.events
        return self.events[0]


@pytest.fixture
def telemetry() -> FakeTelemetry:
    return FakeTelemetry()


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    reset_stats()
    yield
    reset_stats()


def instance_uuid() -> uuid.UUID:
    return uuid.UUID(INSTANCE_ID)


@pytest.fixture
def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test (genai-prices must use its bundled data only)."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def fields(event: TaskCompletionEvent) -> dict[str, object]:
    """The fields the instrumentation decides (ids, timestamp and duration vary)."""
    return {
        "task_type": event.task_type.value,
        "complexity": event.complexity.value,
        "harness": event.harness.value,
        "model": event.model,
        "provider": event.provider.value,
        "actual_input_tokens": event.actual_input_tokens,
        "actual_output_tokens": event.actual_output_tokens,
        "actual_cost_usd_micros": event.actual_cost_usd_micros,
        "outcome": event.outcome.value,
        "quality_gate_passed": event.quality_gate_passed,
    }


def expected(**changes: object) -> dict[str, object]:
    """An event's expected fields: a successful api_direct call of medium complexity, with ``changes``."""
    base: dict[str, object] = {
        "task_type": "unknown",
        "complexity": "medium",
        "harness": "api_direct",
        "outcome": "success",
        "quality_gate_passed": True,
    }
    base.update(changes)
    if base["outcome"] != "success":
        base["quality_gate_passed"] = False
    return base
