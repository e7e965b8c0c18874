"""Helpers shared by the reference server's tests (imported by name: ``tests/server`` is on ``sys.path``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx

from mosaicstack_telemetry.server import SQLiteStorage
from mosaicstack_telemetry.server.keys import ApiKey


def wire_event(instance_id: UUID | str, **overrides: Any) -> dict[str, Any]:
    """A valid event as it travels on the wire (a JSON object); keyword arguments override fields."""
    event: dict[str, Any] = {
        "instance_id": str(instance_id),
        "event_id": str(uuid4()),
        "schema_version": "1.0",
        "timestamp": "2026-01-15T12:00:00+00:00",
        "task_duration_ms": 45_000,
        "task_type": "implementation",
        "complexity": "medium",
        "harness": "aider",
        "model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "estimated_input_tokens": 5_000,
        "estimated_output_tokens": 2_000,
        "actual_input_tokens": 5_200,
        "actual_output_tokens": 1_800,
        "estimated_cost_usd_micros": 50_000,
        "actual_cost_usd_micros": 48_000,
        "quality_gate_passed": True,
        "quality_gates_run": ["lint", "test"],
        "quality_gates_failed": [],
        "context_compactions": 0,
        "context_rotations": 0,
        "context_utilization_final": 0.4,
        "outcome": "success",
        "retry_count": 0,
        "language": "python",
        "repo_size_category": None,
    }
    event.update(overrides)
    return event


def query(**overrides: str) -> dict[str, str]:
    """A prediction query on the wire, matching :func:`wire_event`'s defaults unless overridden."""
    return {
        "task_type": "implementation",
        "model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "complexity": "medium",
        **overrides,
    }


class InProcess:
    """The ASGI app driven in-process through ``httpx.ASGITransport`` (no socket: fast, for fuzzing)."""

    def __init__(self, storage: SQLiteStorage, key: ApiKey, http: httpx.AsyncClient) -> None:
        self.storage = storage
        self.key = key
        self.http = http
