"""``EventBuilder``: a chainable way to build a :class:`~mosaicstack_telemetry.TaskCompletionEvent`.

``build()`` makes the event that ``TaskCompletionEvent(**fields)`` would — same values, same
:class:`~mosaicstack_telemetry.ValidationError` for the same bad input — at a fraction of the cost. The builder keeps
one value per event field in a list (setters store by index), and a constructor generated once from the event's
attrs fields (as attrs generates ``__init__``) sets each field from it, fills the event's own defaults for what was
not set (a fresh ``event_id``, the ``timestamp``), hands over a new list per gate list, and runs the event's one
validation step. That step converts what the attrs converters would have (an enum value string, a UUID string, a
naive datetime: each converted field's rule converts the same input to the same value) and reports every bad field;
``tests/models/test_builder.py`` compares the two paths on generated input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from ._converters import to_uuid
from ._model import Model
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

#: the index of each event field in a builder's value list: the event's attrs field order
_INDEX = {name: index for index, name in enumerate(attrs.fields_dict(TaskCompletionEvent))}
_INSTANCE_ID = _INDEX["instance_id"]
_EVENT_ID = _INDEX["event_id"]
_TIMESTAMP = _INDEX["timestamp"]
_TASK_TYPE = _INDEX["task_type"]
_COMPLEXITY = _INDEX["complexity"]
_HARNESS = _INDEX["harness"]
_MODEL = _INDEX["model"]
_PROVIDER = _INDEX["provider"]
_TASK_DURATION_MS = _INDEX["task_duration_ms"]
_OUTCOME = _INDEX["outcome"]
_RETRY_COUNT = _INDEX["retry_count"]
_LANGUAGE = _INDEX["language"]
_REPO_SIZE_CATEGORY = _INDEX["repo_size_category"]
_ESTIMATED_INPUT_TOKENS = _INDEX["estimated_input_tokens"]
_ESTIMATED_OUTPUT_TOKENS = _INDEX["estimated_output_tokens"]
_ACTUAL_INPUT_TOKENS = _INDEX["actual_input_tokens"]
_ACTUAL_OUTPUT_TOKENS = _INDEX["actual_output_tokens"]
_ESTIMATED_COST_USD_MICROS = _INDEX["estimated_cost_usd_micros"]
_ACTUAL_COST_USD_MICROS = _INDEX["actual_cost_usd_micros"]
_QUALITY_GATE_PASSED = _INDEX["quality_gate_passed"]
_QUALITY_GATES_RUN = _INDEX["quality_gates_run"]
_QUALITY_GATES_FAILED = _INDEX["quality_gates_failed"]
_CONTEXT_COMPACTIONS = _INDEX["context_compactions"]
_CONTEXT_ROTATIONS = _INDEX["context_rotations"]
_CONTEXT_UTILIZATION_FINAL = _INDEX["context_utilization_final"]


class _Unset:
    """A field the builder was not given (the event's own default applies): not ``None``, a value one may set."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()
#: a new builder's values: its defaults, the rest unset
_INITIAL: list[Any] = [_DEFAULTS.get(name, _UNSET) for name in _INDEX]


class EventBuilder:
    """Fluent builder with the original SDK's setters and defaults; every setter returns the builder.

    The builder can be reused: each :meth:`build` returns a new event with a fresh ``event_id`` and ``timestamp``
    unless :meth:`event_id` / :meth:`timestamp` set one. Values are checked by :meth:`build`, which raises
    :class:`~mosaicstack_telemetry.ValidationError` naming every bad field.
    """

    __slots__ = ("_values",)

    def __init__(self, instance_id: str | UUID) -> None:
        values = self._values = _INITIAL.copy()
        # converted now (never raises: a bad id comes back unchanged for build() to report), once per builder
        values[_INSTANCE_ID] = to_uuid(instance_id)

    def event_id(self, value: str | UUID) -> EventBuilder:
        """Use this event id (default: a new UUID4 per :meth:`build`)."""
        self._values[_EVENT_ID] = value
        return self

    def timestamp(self, value: datetime) -> EventBuilder:
        """When the task completed (default: the time of :meth:`build`, UTC). A naive datetime is taken as UTC."""
        self._values[_TIMESTAMP] = value
        return self

    def task_type(self, value: TaskType | str) -> EventBuilder:
        self._values[_TASK_TYPE] = value
        return self

    def complexity_level(self, value: Complexity | str) -> EventBuilder:
        self._values[_COMPLEXITY] = value
        return self

    def harness_type(self, value: Harness | str) -> EventBuilder:
        self._values[_HARNESS] = value
        return self

    def model(self, value: str) -> EventBuilder:
        self._values[_MODEL] = value
        return self

    def provider(self, value: Provider | str) -> EventBuilder:
        self._values[_PROVIDER] = value
        return self

    def duration_ms(self, value: int) -> EventBuilder:
        """Task wall-clock time in milliseconds (sets ``task_duration_ms``)."""
        self._values[_TASK_DURATION_MS] = value
        return self

    def outcome_value(self, value: Outcome | str) -> EventBuilder:
        self._values[_OUTCOME] = value
        return self

    def retry_count(self, value: int) -> EventBuilder:
        self._values[_RETRY_COUNT] = value
        return self

    def language(self, value: str | None) -> EventBuilder:
        self._values[_LANGUAGE] = value
        return self

    def repo_size(self, value: RepoSizeCategory | str | None) -> EventBuilder:
        """Sets ``repo_size_category``."""
        self._values[_REPO_SIZE_CATEGORY] = value
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
        values = self._values
        values[_ESTIMATED_INPUT_TOKENS] = estimated_in
        values[_ESTIMATED_OUTPUT_TOKENS] = estimated_out
        values[_ACTUAL_INPUT_TOKENS] = actual_in
        values[_ACTUAL_OUTPUT_TOKENS] = actual_out
        return self

    def cost(self, *, estimated: int = 0, actual: int = 0) -> EventBuilder:
        """Set estimated and actual cost in microdollars (1 USD = 1,000,000)."""
        self._values[_ESTIMATED_COST_USD_MICROS] = estimated
        self._values[_ACTUAL_COST_USD_MICROS] = actual
        return self

    def quality(
        self,
        *,
        passed: bool,
        gates_run: Iterable[QualityGate | str] | None = None,
        gates_failed: Iterable[QualityGate | str] | None = None,
    ) -> EventBuilder:
        """Set the quality gate results; the lists are copied, so the caller may reuse theirs."""
        values = self._values
        values[_QUALITY_GATE_PASSED] = passed
        values[_QUALITY_GATES_RUN] = tuple(gates_run) if gates_run.__class__ is list else _copied(gates_run)
        values[_QUALITY_GATES_FAILED] = () if gates_failed is None else _copied(gates_failed)
        return self

    def context(self, *, compactions: int = 0, rotations: int = 0, utilization: float = 0.0) -> EventBuilder:
        """Set the context window metrics."""
        values = self._values
        values[_CONTEXT_COMPACTIONS] = compactions
        values[_CONTEXT_ROTATIONS] = rotations
        values[_CONTEXT_UTILIZATION_FINAL] = utilization
        return self

    def build(self) -> TaskCompletionEvent:
        """A new, validated event from what was set (each call a fresh ``event_id`` unless one was set).

        :raises ~mosaicstack_telemetry.ValidationError: naming every bad field, as the event's constructor does.
        """
        return _make(self._values)


def _copied(gates: Iterable[QualityGate | str] | None) -> Any:
    """A private copy of a gate list (a tuple: a reused builder never shares a list); a string, or anything not
    iterable, is left for ``build()`` to report as "is not a list" (a string is not split into letters)."""
    if gates is None:
        return ()
    if isinstance(gates, (str, bytes)) or not isinstance(gates, Iterable):
        return gates
    return tuple(gates)


def _compile_make(cls: type[TaskCompletionEvent]) -> Callable[[list[Any]], TaskCompletionEvent]:
    """Generate ``make(values)``: ``cls(**fields)`` for a builder's values, minus the call and the converters (see
    the module docstring). A value the builder holds is set as is (a gate tuple as a new list); an unset one gets
    the event's default; a required field without a value raises the ``TypeError`` the constructor would."""
    namespace: dict[str, Any] = {"_new": object.__new__, "cls": cls, "UNSET": _UNSET}
    lines = ["def make(values):", "    e = _new(cls)"]
    always_set = {"instance_id", *_DEFAULTS}  # by __init__: no need to test these for UNSET
    for index, field in enumerate(attrs.fields(cls)):
        name = field.name
        lines.append(f"    v = values[{index}]")
        if name not in always_set:
            lines.append(f"    if v is UNSET: {_unset_value(name, field.default, namespace)}")
        if isinstance(_DEFAULTS.get(name), tuple):  # a gate list: a copy per event (a builder is reusable)
            lines.append("    if v.__class__ is tuple: v = [*v]")
        lines.append(f"    e.{name} = v")
    # the event's __attrs_post_init__ (the model's is its validation step alone: then called directly)
    namespace["post_init"] = (
        cls._validate if cls.__attrs_post_init__ is Model.__attrs_post_init__ else cls.__attrs_post_init__
    )
    lines += ["    post_init(e)", "    return e"]
    exec(compile("\n".join(lines), f"<builder of {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 - our own source
    make: Callable[[list[Any]], TaskCompletionEvent] = namespace["make"]
    return make


def _unset_value(name: str, default: Any, namespace: dict[str, Any]) -> str:
    """The statement giving an unset field the event's default (a factory called, a value), or the constructor's
    ``TypeError`` for a required one."""
    if isinstance(default, attrs.Factory) and not default.takes_self:  # type: ignore[arg-type]
        namespace[f"factory_{name}"] = default.factory
        return f"v = factory_{name}()"
    if default is not attrs.NOTHING:
        namespace[f"default_{name}"] = default
        return f"v = default_{name}"
    return f"raise TypeError({f'EventBuilder cannot set the required field {name!r}'!r})"


_make = _compile_make(TaskCompletionEvent)
