"""``EventBuilder``: a chainable way to build a :class:`~mosaicstack_telemetry.TaskCompletionEvent`.

``build()`` makes the event the way ``TaskCompletionEvent(**fields)`` would — same values, same
:class:`~mosaicstack_telemetry.ValidationError` for the same bad input — without the keyword-argument call and the
attrs converters in between: a constructor generated once from the event's attrs fields (as attrs generates
``__init__``) sets every field from the builder, fills the event's own defaults (a fresh ``event_id``, the
``timestamp``), hands over a new list per gate list, and runs the event's one validation step, which converts what
the converters would (an enum value string, a UUID string, a naive datetime) and reports every bad field. Each
converted field's rule converts the same input to the same value; ``tests/foundation/test_builder.py`` compares the
two paths on generated input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from ._model import Model
from ._schema import to_uuid
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
        # converted now (never raises: a bad id comes back unchanged for build() to report), once per builder
        self._fields: dict[str, Any] = {**_DEFAULTS, "instance_id": to_uuid(instance_id)}

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
        fields["quality_gates_run"] = tuple(gates_run) if gates_run.__class__ is list else _copied(gates_run)
        fields["quality_gates_failed"] = () if gates_failed is None else _copied(gates_failed)
        return self

    def context(self, *, compactions: int = 0, rotations: int = 0, utilization: float = 0.0) -> EventBuilder:
        """Set the context window metrics."""
        fields = self._fields
        fields["context_compactions"] = compactions
        fields["context_rotations"] = rotations
        fields["context_utilization_final"] = utilization
        return self

    def build(self) -> TaskCompletionEvent:
        """A new, validated event from what was set (each call a fresh ``event_id`` unless one was set).

        :raises ~mosaicstack_telemetry.ValidationError: naming every bad field, as the event's constructor does.
        """
        return _make(self._fields)


def _copied(gates: Iterable[QualityGate | str] | None) -> Any:
    """A private copy of a gate list (a tuple: a reused builder never shares a list); a string, or anything not
    iterable, is left for ``build()`` to report as "is not a list" (a string is not split into letters)."""
    if gates is None:
        return ()
    if isinstance(gates, (str, bytes)) or not isinstance(gates, Iterable):
        return gates
    return tuple(gates)


def _compile_make(cls: type[TaskCompletionEvent]) -> Callable[[dict[str, Any]], TaskCompletionEvent]:
    """Generate ``make(fields)``: ``cls(**fields)`` for the builder's fields, minus the call and the converters (see
    the module docstring). A field the builder holds is set from it (a gate tuple as a new list); one it may hold
    (``event_id``, ``timestamp``) falls back to the event's default; a required one it cannot hold raises the
    ``TypeError`` the constructor would."""
    namespace: dict[str, Any] = {"_new": object.__new__, "cls": cls, "tuple": tuple}
    lines = ["def make(f):", "    e = _new(cls)"]
    held = {"instance_id", *_DEFAULTS}
    for field in attrs.fields(cls):
        name, default = field.name, field.default
        if name in held:
            if isinstance(_DEFAULTS.get(name), tuple):  # a gate list: a copy per event (a builder is reusable)
                lines += [f"    v = f[{name!r}]", f"    e.{name} = [*v] if v.__class__ is tuple else v"]
            else:
                lines.append(f"    e.{name} = f[{name!r}]")
        elif isinstance(default, attrs.Factory) and not default.takes_self:  # type: ignore[arg-type]
            namespace[f"factory_{name}"] = default.factory
            lines.append(f"    e.{name} = f[{name!r}] if {name!r} in f else factory_{name}()")
        elif default is not attrs.NOTHING:
            namespace[f"default_{name}"] = default
            lines.append(f"    e.{name} = f[{name!r}] if {name!r} in f else default_{name}")
        else:
            message = f"EventBuilder cannot set the required field {name!r}"
            lines.append(f"    raise TypeError({message!r})")
    # the event's __attrs_post_init__ (the model's is its validation step alone: then called directly)
    namespace["post_init"] = (
        cls._validate if cls.__attrs_post_init__ is Model.__attrs_post_init__ else cls.__attrs_post_init__
    )
    lines += ["    post_init(e)", "    return e"]
    exec(compile("\n".join(lines), f"<builder of {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 - our own source
    make: Callable[[dict[str, Any]], TaskCompletionEvent] = namespace["make"]
    return make


_make = _compile_make(TaskCompletionEvent)
