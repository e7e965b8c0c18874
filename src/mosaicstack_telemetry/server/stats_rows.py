"""The rows :class:`.stats_queries.StatsQueries` returns: one frozen class per kind of result, plain values only.

Amounts are integers as stored (tokens, micro-dollars, milliseconds); times are aware UTC datetimes. The read API
serialises them field by field (``attrs.asdict``), so a field added here appears in its JSON.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

__all__ = ["Bucket", "Combination", "EventRow", "Facets", "GateRow", "GroupRow", "Totals"]


@attrs.frozen
class Totals:
    events: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    succeeded: int
    gate_passed: int
    #: the earliest and latest event ``timestamp`` (``None`` without events)
    first: datetime | None
    last: datetime | None


@attrs.frozen
class Bucket:
    start: datetime
    events: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    succeeded: int


@attrs.frozen
class GroupRow:
    key: str
    events: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    succeeded: int
    gate_passed: int


@attrs.frozen
class GateRow:
    task_type: str
    gate: str
    #: events of the task type that ran the gate, and those among them... that listed it failed
    runs: int
    failures: int


@attrs.frozen
class Combination:
    task_type: str
    model: str
    provider: str
    complexity: str
    events: int


@attrs.frozen
class EventRow:
    event_id: UUID
    timestamp: datetime
    task_type: str
    model: str
    provider: str
    complexity: str
    harness: str
    outcome: str
    task_duration_ms: int
    input_tokens: int
    output_tokens: int
    cost_usd_micros: int
    quality_gate_passed: bool
    quality_gates_failed: list[str]


@attrs.frozen
class Facets:
    """The values an instance's filters can take: what its events hold."""

    models: list[str]
    task_types: list[str]
    harnesses: list[str]
    first: datetime | None
    last: datetime | None
