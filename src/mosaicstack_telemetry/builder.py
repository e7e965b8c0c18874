"""``EventBuilder``: a chainable way to build a :class:`~mosaicstack_telemetry.TaskCompletionEvent`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType
from .events import TaskCompletionEvent

__all__ = ["EventBuilder"]

# The builder's documented defaults; the event's own defaults cover event_id, timestamp and schema_version.
_DEFAULTS: dict[str, Any] = {
    "task_type": TaskType.UNKNOWN,
    "complexity": Complexity.MEDIUM,
    "harness": Harness.UNKNOWN,
    "model": "unknown",
    "provider": Provider.UNKNOWN,
    "task_duration_ms": 0,
    "outcome": Outcome.FAILURE,
    "retry_count": 0,
    "language": None,
    "repo_size_category": None,
    "estimated_input_tokens": 0,
    "estimated_output_tokens": 0,
    "actual_input_tokens": 0,
    "actual_output_tokens": 0,
    "estimated_cost_usd_micros": 0,
    "actual_cost_usd_micros": 0,
    "quality_gate_passed": False,
    "quality_gates_run": (),
    "quality_gates_failed": (),
    "context_compactions": 0,
    "context_rotations": 0,
    "context_utilization_final": 0.0,
}


class EventBuilder:
    """Fluent builder with the original SDK's setters and defaults; every setter returns the builder.

    The builder can be reused: each :meth:`build` returns a new event with a fresh ``event_id`` and ``timestamp``
    unless :meth:`event_id` / :meth:`timestamp` set one. Values are checked by :meth:`build`, which raises
    :class:`~mosaicstack_telemetry.ValidationError` naming every bad field.
    """

    __slots__ = ("_fields",)

    def __init__(self, instance_id: str | UUID) -> None:
        self._fields: dict[str, Any] = {**_DEFAULTS, "instance_id": instance_id}

    def event_id(self, value: str | UUID) -> EventBuilder:
        """Use this event id (default: a new UUID4 per :meth:`build`)."""
        self._fields["event_id"] = value
        return self

    def timestamp(self, value: datetime) -> EventBuilder:
        """When the task completed (default: the time of :meth:`build`, UTC). A naive datetime is taken as UTC."""
        self._fields["timestamp"] = value
        return self

    def task_type(self, value: TaskType | str) -> EventBuilder:
        self._fields["task_type"] = value
        return self

    def complexity_level(self, value: Complexity | str) -> EventBuilder:
        self._fields["complexity"] = value
        return self

    def harness_type(self, value: Harness | str) -> EventBuilder:
        self._fields["harness"] = value
        return self

    def model(self, value: str) -> EventBuilder:
        self._fields["model"] = value
        return self

    def provider(self, value: Provider | str) -> EventBuilder:
        self._fields["provider"] = value
        return self

    def duration_ms(self, value: int) -> EventBuilder:
        """Task wall-clock time in milliseconds (sets ``task_duration_ms``)."""
        self._fields["task_duration_ms"] = value
        return self

    def outcome_value(self, value: Outcome | str) -> EventBuilder:
        self._fields["outcome"] = value
        return self

    def retry_count(self, value: int) -> EventBuilder:
        self._fields["retry_count"] = value
        return self

    def language(self, value: str | None) -> EventBuilder:
        self._fields["language"] = value
        return self

    def repo_size(self, value: RepoSizeCategory | str | None) -> EventBuilder:
        """Sets ``repo_size_category``."""
        self._fields["repo_size_category"] = value
        return self

    def tokens(
        self,
        *,
        estimated_in: int = 0,
        estimated_out: int = 0,
        actual_in: int = 0,
        actual_out: int = 0,
    ) -> EventBuilder:
        """Set all four token counts."""
        fields = self._fields
        fields["estimated_input_tokens"] = estimated_in
        fields["estimated_output_tokens"] = estimated_out
        fields["actual_input_tokens"] = actual_in
        fields["actual_output_tokens"] = actual_out
        return self

    def cost(self, *, estimated: int = 0, actual: int = 0) -> EventBuilder:
        """Set estimated and actual cost in microdollars (1 USD = 1,000,000)."""
        self._fields["estimated_cost_usd_micros"] = estimated
        self._fields["actual_cost_usd_micros"] = actual
        return self

    def quality(
        self,
        *,
        passed: bool,
        gates_run: Iterable[QualityGate | str] | None = None,
        gates_failed: Iterable[QualityGate | str] | None = None,
    ) -> EventBuilder:
        """Set the quality gate results; the lists are copied, so the caller may reuse theirs."""
        fields = self._fields
        fields["quality_gate_passed"] = passed
        fields["quality_gates_run"] = _copied(gates_run)
        fields["quality_gates_failed"] = _copied(gates_failed)
        return self

    def context(self, *, compactions: int = 0, rotations: int = 0, utilization: float = 0.0) -> EventBuilder:
        """Set the context window metrics."""
        fields = self._fields
        fields["context_compactions"] = compactions
        fields["context_rotations"] = rotations
        fields["context_utilization_final"] = utilization
        return self

    def build(self) -> TaskCompletionEvent:
        """A new, validated event from what was set (each call a fresh ``event_id`` unless one was set)."""
        return TaskCompletionEvent(**self._fields)


def _copied(gates: Iterable[QualityGate | str] | None) -> Any:
    """A private copy of a gate list (a tuple: a reused builder never shares a list); a string is left for
    ``build()`` to report as "is not a list", not split into letters."""
    if gates is None:
        return ()
    if isinstance(gates, (str, bytes)):
        return gates
    return tuple(gates)
