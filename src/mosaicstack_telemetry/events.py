"""The event the SDK reports: one completed AI coding task (event schema 1.0)."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import attrs

from . import _converters as convert
from ._converters import MAX_GATES, to_uuid
from ._ids import new_event_id
from ._model import Model
from ._rules import Bool, DateTime, EnumList, EnumOf, FloatRange, IntRange, IsUUID, Text, rule
from ._schema import schema
from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType

__all__ = ["SCHEMA_VERSION", "TaskCompletionEvent"]

#: The event schema version this package writes.
SCHEMA_VERSION = "1.0"

_TOKENS = IntRange(0, 10_000_000)
_COST_MICROS = IntRange(0, 100_000_000)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class TaskCompletionEvent(Model):
    """One completed AI coding task, as the server's v1 event schema (version 1.0) defines it.

    Every field, default and range is the API reference's. Inputs are converted to the documented types — a UUID
    string to :class:`~uuid.UUID`, an enum value string to its member, a naive ``datetime`` is taken as UTC — and a
    bad value raises :class:`~mosaicstack_telemetry.ValidationError` listing every bad field. Like the original's
    pydantic model it is mutable and assignment is not re-validated.
    """

    instance_id: UUID = attrs.field(converter=to_uuid, metadata=rule(IsUUID()))
    event_id: UUID = attrs.field(factory=new_event_id, converter=to_uuid, metadata=rule(IsUUID()))
    schema_version: str = attrs.field(default=SCHEMA_VERSION, metadata=rule(Text(1, 20)))
    timestamp: datetime = attrs.field(factory=_utc_now, converter=convert.timestamp, metadata=rule(DateTime()))
    task_duration_ms: int = attrs.field(metadata=rule(IntRange(0, 86_400_000)))
    task_type: TaskType = attrs.field(converter=convert.task_type, metadata=rule(EnumOf(TaskType)))
    complexity: Complexity = attrs.field(converter=convert.complexity, metadata=rule(EnumOf(Complexity)))
    harness: Harness = attrs.field(converter=convert.harness, metadata=rule(EnumOf(Harness)))
    model: str = attrs.field(metadata=rule(Text(1, 100)))
    provider: Provider = attrs.field(converter=convert.provider, metadata=rule(EnumOf(Provider)))
    estimated_input_tokens: int = attrs.field(metadata=rule(_TOKENS))
    estimated_output_tokens: int = attrs.field(metadata=rule(_TOKENS))
    actual_input_tokens: int = attrs.field(metadata=rule(_TOKENS))
    actual_output_tokens: int = attrs.field(metadata=rule(_TOKENS))
    estimated_cost_usd_micros: int = attrs.field(metadata=rule(_COST_MICROS))
    actual_cost_usd_micros: int = attrs.field(metadata=rule(_COST_MICROS))
    quality_gate_passed: bool = attrs.field(metadata=rule(Bool()))
    quality_gates_run: list[QualityGate] = attrs.field(
        factory=list, converter=convert.quality_gates, metadata=rule(EnumList(QualityGate, max_items=MAX_GATES))
    )
    quality_gates_failed: list[QualityGate] = attrs.field(
        factory=list, converter=convert.quality_gates, metadata=rule(EnumList(QualityGate, max_items=MAX_GATES))
    )
    context_compactions: int = attrs.field(metadata=rule(IntRange(0, 100)))
    context_rotations: int = attrs.field(metadata=rule(IntRange(0, 50)))
    context_utilization_final: float = attrs.field(metadata=rule(FloatRange(0.0, 1.0)))
    outcome: Outcome = attrs.field(converter=convert.outcome, metadata=rule(EnumOf(Outcome)))
    retry_count: int = attrs.field(metadata=rule(IntRange(0, 20)))
    language: str | None = attrs.field(default=None, metadata=rule(Text(0, 30, optional=True)))
    repo_size_category: RepoSizeCategory | None = attrs.field(
        default=None,
        converter=convert.repo_size,
        metadata=rule(EnumOf(RepoSizeCategory, optional=True)),
    )
