"""The design we replace, as a benchmark baseline: the original SDK's event schema as a pydantic v2 model.

Benchmark-only (pydantic is not a dependency of the package). Same fields, defaults and constraints as
``mosaicstack_telemetry.TaskCompletionEvent``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from mosaicstack_telemetry import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskType,
)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class PydanticEvent(BaseModel):
    instance_id: UUID
    event_id: UUID = Field(default_factory=uuid4)
    schema_version: str = "1.0"
    timestamp: datetime = Field(default_factory=_utc_now)
    task_duration_ms: int = Field(ge=0, le=86_400_000)
    task_type: TaskType
    complexity: Complexity
    harness: Harness
    model: str = Field(min_length=1, max_length=100)
    provider: Provider
    estimated_input_tokens: int = Field(ge=0, le=10_000_000)
    estimated_output_tokens: int = Field(ge=0, le=10_000_000)
    actual_input_tokens: int = Field(ge=0, le=10_000_000)
    actual_output_tokens: int = Field(ge=0, le=10_000_000)
    estimated_cost_usd_micros: int = Field(ge=0, le=100_000_000)
    actual_cost_usd_micros: int = Field(ge=0, le=100_000_000)
    quality_gate_passed: bool
    quality_gates_run: list[QualityGate] = Field(default_factory=list)
    quality_gates_failed: list[QualityGate] = Field(default_factory=list)
    context_compactions: int = Field(ge=0, le=100)
    context_rotations: int = Field(ge=0, le=50)
    context_utilization_final: float = Field(ge=0.0, le=1.0)
    outcome: Outcome
    retry_count: int = Field(ge=0, le=20)
    language: str | None = Field(default=None, max_length=30)
    repo_size_category: RepoSizeCategory | None = None
