"""EventBuilder: every documented setter and default, keyword-only signatures, chaining, reuse, validation at build."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicstack_telemetry import (
    Complexity,
    EventBuilder,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskCompletionEvent,
    TaskType,
    ValidationError,
)
from mosaicstack_telemetry.builder import _UNSET, _compile_make

from ._support import EVENT_ID, INSTANCE_ID, TIMESTAMP

UTC = timezone.utc

# The reference's builder tables: default of every field the builder sets.
DOCUMENTED_DEFAULTS: dict[str, Any] = {
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
    "quality_gates_run": [],
    "quality_gates_failed": [],
    "context_compactions": 0,
    "context_rotations": 0,
    "context_utilization_final": 0.0,
    "schema_version": "1.0",
}

# (setter, argument, field it sets, expected value): the reference's "Setter Methods" table.
SETTERS: list[tuple[str, Any, str, Any]] = [
    ("event_id", EVENT_ID, "event_id", UUID(EVENT_ID)),
    ("event_id", UUID(EVENT_ID), "event_id", UUID(EVENT_ID)),
    ("timestamp", TIMESTAMP, "timestamp", TIMESTAMP),
    ("timestamp", datetime(2026, 1, 1, 12), "timestamp", datetime(2026, 1, 1, 12, tzinfo=UTC)),
    ("task_type", TaskType.DEBUGGING, "task_type", TaskType.DEBUGGING),
    ("task_type", "debugging", "task_type", TaskType.DEBUGGING),
    ("complexity_level", Complexity.CRITICAL, "complexity", Complexity.CRITICAL),
    ("harness_type", Harness.OLLAMA_LOCAL, "harness", Harness.OLLAMA_LOCAL),
    ("model", "gpt-5", "model", "gpt-5"),
    ("provider", Provider.MISTRAL, "provider", Provider.MISTRAL),
    ("duration_ms", 86_400_000, "task_duration_ms", 86_400_000),
    ("outcome_value", Outcome.TIMEOUT, "outcome", Outcome.TIMEOUT),
    ("retry_count", 20, "retry_count", 20),
    ("language", "rust", "language", "rust"),
    ("language", None, "language", None),
    ("repo_size", RepoSizeCategory.LARGE, "repo_size_category", RepoSizeCategory.LARGE),
    ("repo_size", None, "repo_size_category", None),
]
SETTER_IDS = [f"{setter}-{field}-{index}" for index, (setter, _, field, _) in enumerate(SETTERS)]


def test_build_without_setters_gives_the_documented_defaults() -> None:
    """``EventBuilder(instance_id).build()`` is valid and has every documented default."""
    event = EventBuilder(instance_id=INSTANCE_ID).build()
    assert DOCUMENTED_DEFAULTS == {name: getattr(event, name) for name in DOCUMENTED_DEFAULTS}
    assert UUID(INSTANCE_ID) == event.instance_id
    assert 4 == event.event_id.version
    assert UTC is event.timestamp.tzinfo


def test_instance_id_may_be_a_uuid_or_a_string() -> None:
    """The constructor takes ``str | UUID``, positionally or by keyword."""
    assert UUID(INSTANCE_ID) == EventBuilder(UUID(INSTANCE_ID)).build().instance_id
    assert UUID(INSTANCE_ID) == EventBuilder(INSTANCE_ID).build().instance_id


@pytest.mark.parametrize(("setter", "argument", "field", "expected"), SETTERS, ids=SETTER_IDS)
def test_each_setter_sets_its_field_and_returns_the_builder(
    setter: str, argument: Any, field: str, expected: Any
) -> None:
    """Each setter of the reference sets its documented field and returns the same builder."""
    builder = EventBuilder(instance_id=INSTANCE_ID)
    method: Callable[[Any], EventBuilder] = getattr(builder, setter)
    assert builder is method(argument)
    assert expected == getattr(builder.build(), field)


def test_tokens_sets_all_four_counts() -> None:
    """tokens() sets the four token fields; unspecified ones are 0."""
    event = EventBuilder(INSTANCE_ID).tokens(estimated_in=1, estimated_out=2, actual_in=3, actual_out=4).build()
    assert (1, 2, 3, 4) == (
        event.estimated_input_tokens,
        event.estimated_output_tokens,
        event.actual_input_tokens,
        event.actual_output_tokens,
    )
    partial = EventBuilder(INSTANCE_ID).tokens(estimated_in=9, actual_in=9).tokens(actual_out=7).build()
    assert (0, 0, 0, 7) == (
        partial.estimated_input_tokens,
        partial.estimated_output_tokens,
        partial.actual_input_tokens,
        partial.actual_output_tokens,
    )


def test_cost_sets_both_costs() -> None:
    """cost() sets estimated and actual microdollars; unspecified ones are 0."""
    event = EventBuilder(INSTANCE_ID).cost(estimated=630000, actual=919200).build()
    assert (630000, 919200) == (event.estimated_cost_usd_micros, event.actual_cost_usd_micros)
    assert 0 == EventBuilder(INSTANCE_ID).cost(actual=5).build().estimated_cost_usd_micros


def test_quality_sets_passed_and_gates() -> None:
    """quality() sets the passed flag and both gate lists (members or value strings); None means []."""
    event = (
        EventBuilder(INSTANCE_ID)
        .quality(passed=True, gates_run=[QualityGate.BUILD, "lint"], gates_failed=["lint"])
        .build()
    )
    assert (True, [QualityGate.BUILD, QualityGate.LINT], [QualityGate.LINT]) == (
        event.quality_gate_passed,
        event.quality_gates_run,
        event.quality_gates_failed,
    )
    cleared = EventBuilder(INSTANCE_ID).quality(passed=True, gates_run=[QualityGate.TEST]).quality(passed=False).build()
    assert (False, [], []) == (
        cleared.quality_gate_passed,
        cleared.quality_gates_run,
        cleared.quality_gates_failed,
    )


def test_context_sets_the_context_metrics() -> None:
    """context() sets compactions, rotations and utilization; unspecified ones are 0 / 0.0."""
    event = EventBuilder(INSTANCE_ID).context(compactions=100, rotations=50, utilization=1.0).build()
    assert (100, 50, 1.0) == (
        event.context_compactions,
        event.context_rotations,
        event.context_utilization_final,
    )
    default = EventBuilder(INSTANCE_ID).context().build()
    assert (0, 0, 0.0) == (
        default.context_compactions,
        default.context_rotations,
        default.context_utilization_final,
    )


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("tokens", {"estimated_in": 0, "estimated_out": 0, "actual_in": 0, "actual_out": 0}),
        ("cost", {"estimated": 0, "actual": 0}),
        ("quality", {"passed": inspect.Parameter.empty, "gates_run": None, "gates_failed": None}),
        ("context", {"compactions": 0, "rotations": 0, "utilization": 0.0}),
    ],
)
def test_grouped_setters_are_keyword_only_with_documented_defaults(method: str, parameters: dict[str, Any]) -> None:
    """tokens/cost/quality/context take only keyword arguments, named and defaulted as documented."""
    signature = inspect.signature(getattr(EventBuilder(INSTANCE_ID), method))
    assert parameters == {name: p.default for name, p in signature.parameters.items()}
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())


def test_grouped_setters_called_positionally_raise_type_error() -> None:
    """Calling tokens/cost/quality/context positionally raises TypeError."""
    builder: Any = EventBuilder(INSTANCE_ID)
    with pytest.raises(TypeError):
        builder.tokens(1, 2, 3, 4)
    with pytest.raises(TypeError):
        builder.cost(1, 2)
    with pytest.raises(TypeError):
        builder.quality(True)
    with pytest.raises(TypeError):
        builder.context(0, 0, 0.5)


def test_quality_requires_passed() -> None:
    """``passed`` has no default: quality() without it raises TypeError."""
    builder: Any = EventBuilder(INSTANCE_ID)
    with pytest.raises(TypeError):
        builder.quality(gates_run=[])


def test_every_setter_chains_on_the_same_builder() -> None:
    """A full chain returns the very same builder at every step."""
    builder = EventBuilder(INSTANCE_ID)
    steps = [
        builder.event_id(EVENT_ID),
        builder.timestamp(TIMESTAMP),
        builder.task_type(TaskType.PLANNING),
        builder.complexity_level(Complexity.LOW),
        builder.harness_type(Harness.OPENCODE),
        builder.model("m"),
        builder.provider(Provider.GOOGLE),
        builder.duration_ms(1),
        builder.outcome_value(Outcome.SUCCESS),
        builder.retry_count(1),
        builder.language("go"),
        builder.repo_size(RepoSizeCategory.TINY),
        builder.tokens(),
        builder.cost(),
        builder.quality(passed=True),
        builder.context(),
    ]
    assert all(step is builder for step in steps)


def test_build_returns_a_validated_event() -> None:
    """build() returns a TaskCompletionEvent with converted values."""
    event = EventBuilder(INSTANCE_ID).task_type("testing").timestamp(datetime(2026, 1, 1)).build()
    assert TaskCompletionEvent is type(event)
    assert TaskType.TESTING is event.task_type
    assert datetime(2026, 1, 1, tzinfo=UTC) == event.timestamp


@pytest.mark.parametrize(
    ("configure", "field"),
    [
        (lambda b: b.duration_ms(-1), "task_duration_ms"),
        (lambda b: b.model(""), "model"),
        (lambda b: b.provider("bogus"), "provider"),
        (lambda b: b.retry_count(21), "retry_count"),
        (lambda b: b.language("x" * 31), "language"),
        (lambda b: b.repo_size("enormous"), "repo_size_category"),
        (lambda b: b.event_id("nope"), "event_id"),
        (lambda b: b.timestamp("nope"), "timestamp"),
        (lambda b: b.tokens(estimated_out=-1), "estimated_output_tokens"),
        (lambda b: b.cost(actual=100_000_001), "actual_cost_usd_micros"),
        (lambda b: b.quality(passed="yes"), "quality_gate_passed"),
        (lambda b: b.quality(passed=True, gates_failed=["bogus"]), "quality_gates_failed"),
        (lambda b: b.context(rotations=51), "context_rotations"),
        (lambda b: b.context(utilization=1.5), "context_utilization_final"),
    ],
)
def test_bad_values_raise_at_build_naming_the_field(configure: Callable[[Any], Any], field: str) -> None:
    """Setters accept anything; build() raises a ValidationError naming the bad field."""
    builder = EventBuilder(INSTANCE_ID)
    configure(builder)
    with pytest.raises(ValidationError) as caught:
        builder.build()
    assert 1 == len(caught.value.errors)
    assert caught.value.errors[0].startswith(f"{field}=")


def test_bad_instance_id_raises_at_build() -> None:
    """A bad instance id is reported by build(), not by the constructor."""
    builder = EventBuilder("not-a-uuid")
    with pytest.raises(ValidationError, match="instance_id='not-a-uuid' is not a valid UUID"):
        builder.build()


def test_builder_is_reusable_with_fresh_ids() -> None:
    """Each build() of a reused builder gives a new event with a fresh event_id and its own gate lists."""
    builder = EventBuilder(INSTANCE_ID).quality(passed=True, gates_run=[QualityGate.LINT])
    first, second = builder.build(), builder.build()
    assert first.event_id != second.event_id
    assert first.quality_gates_run == second.quality_gates_run
    assert first.quality_gates_run is not second.quality_gates_run
    first.quality_gates_run.append(QualityGate.TEST)
    assert [QualityGate.LINT] == builder.build().quality_gates_run


def test_changes_after_build_do_not_affect_built_events() -> None:
    """Changing the builder after build() leaves the events already built alone."""
    builder = EventBuilder(INSTANCE_ID).model("first")
    first = builder.build()
    builder.model("second")
    assert ("first", "second") == (first.model, builder.build().model)


def test_set_event_id_is_kept_across_builds() -> None:
    """An event_id set with .event_id(...) is used by every build()."""
    builder = EventBuilder(INSTANCE_ID).event_id(EVENT_ID)
    assert UUID(EVENT_ID) == builder.build().event_id == builder.build().event_id


def test_default_timestamp_is_taken_at_build() -> None:
    """Without .timestamp(...), each build() stamps the current UTC time."""
    builder = EventBuilder(INSTANCE_ID)
    before = datetime.now(UTC)
    stamp = builder.build().timestamp
    assert before <= stamp <= datetime.now(UTC)
    set_stamp = builder.timestamp(TIMESTAMP - timedelta(days=1)).build().timestamp
    assert TIMESTAMP - timedelta(days=1) == set_stamp


def test_gate_lists_passed_to_quality_are_copied() -> None:
    """The caller's lists are copied by quality(): changing them later changes neither builder nor events."""
    run = [QualityGate.BUILD]
    failed = [QualityGate.BUILD]
    builder = EventBuilder(INSTANCE_ID).quality(passed=False, gates_run=run, gates_failed=failed)
    first = builder.build()
    run.append(QualityGate.SECURITY)
    failed.clear()
    second = builder.build()
    assert [QualityGate.BUILD] == first.quality_gates_run == second.quality_gates_run
    assert [QualityGate.BUILD] == first.quality_gates_failed == second.quality_gates_failed
    assert run is not first.quality_gates_run


def test_quality_accepts_any_iterable_of_gates() -> None:
    """gates_run may be any iterable, a generator included (read once, at the call)."""
    event = EventBuilder(INSTANCE_ID).quality(passed=True, gates_run=(g for g in ["lint", "test"])).build()
    assert [QualityGate.LINT, QualityGate.TEST] == event.quality_gates_run


def test_builder_is_slotted() -> None:
    """The builder has no ``__dict__`` (a typo in a setter name fails loudly)."""
    builder: Any = EventBuilder(INSTANCE_ID)
    assert not hasattr(builder, "__dict__")
    with pytest.raises(AttributeError):
        builder.task_typ = TaskType.TESTING


# -- build() is the event's constructor, without the call: same values, same errors -----------------------------------

_UUIDS = st.sampled_from([INSTANCE_ID, UUID(INSTANCE_ID), EVENT_ID.upper(), "not-a-uuid", 42, None])
_ENUM_VALUES: dict[str, type[Enum]] = {
    "task_type": TaskType,
    "complexity_level": Complexity,
    "harness_type": Harness,
    "provider": Provider,
    "outcome_value": Outcome,
}


def _enum_input(enum: type[Enum]) -> st.SearchStrategy[Any]:
    """A member, its value string, a near miss, or something of the wrong type."""
    return st.one_of(
        st.sampled_from(list(enum)), st.sampled_from([m.value for m in enum]), st.sampled_from(["", "x", 3])
    )


def _int_input(high: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-2, high + 2), st.sampled_from([float(high), 1.5, True, "1", None, 10**400]), st.just(high)
    )


_GATES = st.one_of(
    st.none(),
    st.lists(st.sampled_from([*QualityGate, "lint", "bogus", 7]), max_size=4),
    st.lists(st.sampled_from(list(QualityGate)), min_size=15, max_size=18),  # about the most a gate list may hold
    st.lists(st.sampled_from(list(QualityGate)), max_size=4).map(tuple),
    st.sampled_from(["lint", 5]),
)
_SETTERS = st.fixed_dictionaries(
    {},
    optional={
        "event_id": _UUIDS,
        "timestamp": st.sampled_from([TIMESTAMP, datetime(2026, 1, 1), "2026-01-01T00:00:00Z", "soon", 0]),
        **{setter: _enum_input(enum) for setter, enum in _ENUM_VALUES.items()},
        "model": st.one_of(st.text(max_size=3), st.sampled_from(["x" * 100, "x" * 101, "\ud800", b"m", None])),
        "duration_ms": _int_input(86_400_000),
        "retry_count": _int_input(20),
        "language": st.one_of(st.none(), st.sampled_from(["py", "x" * 31, 3])),
        "repo_size": st.one_of(st.none(), _enum_input(RepoSizeCategory)),
        "tokens": st.fixed_dictionaries({}, optional={"actual_in": _int_input(10_000_000)}),
        "cost": st.fixed_dictionaries({}, optional={"estimated": _int_input(100_000_000)}),
        "quality": st.fixed_dictionaries(
            {"passed": st.sampled_from([True, False, "yes", 1])}, optional={"gates_run": _GATES, "gates_failed": _GATES}
        ),
        "context": st.fixed_dictionaries(
            {},
            optional={
                "rotations": _int_input(50),
                "utilization": st.one_of(st.floats(allow_nan=True), st.sampled_from([0, 1, True, "0.5"])),
            },
        ),
    },
)
#: the grouped setters' keyword → the field it sets (the rest set the field the SETTERS table names)
_GROUPED = {
    "actual_in": "actual_input_tokens",
    "estimated": "estimated_cost_usd_micros",
    "passed": "quality_gate_passed",
    "gates_run": "quality_gates_run",
    "gates_failed": "quality_gates_failed",
    "rotations": "context_rotations",
    "utilization": "context_utilization_final",
}
_FIELD_OF = {setter: field for setter, _, field, _ in SETTERS}


def _outcome(make: Callable[[], TaskCompletionEvent]) -> tuple[str, Any]:
    """What making an event gives: its fields (minus a fresh id and the time, when made up), or the error lines."""
    try:
        event = make()
    except ValidationError as error:
        return "errors", error.errors
    return "event", {name: getattr(event, name) for name in _COMPARED}


#: every field but event_id and timestamp, which are compared only when set (else each build makes its own)
_COMPARED = [*DOCUMENTED_DEFAULTS, "instance_id"]


@settings(max_examples=300, deadline=None)
@given(instance_id=_UUIDS, calls=_SETTERS)
def test_build_equals_the_constructor_on_any_input(instance_id: Any, calls: dict[str, Any]) -> None:
    """For any mix of good, convertible and bad input, build() gives what ``TaskCompletionEvent(**fields)`` gives: an
    equal event (converted alike), or a ValidationError with the same lines."""
    builder: Any = EventBuilder(instance_id)
    fields: dict[str, Any] = {**DOCUMENTED_DEFAULTS, "instance_id": instance_id}
    for setter, argument in calls.items():
        method = getattr(builder, setter)
        if isinstance(argument, dict):
            method(**argument)
            if setter == "quality":  # unset gate lists are reset to []
                fields.update(quality_gates_run=[], quality_gates_failed=[])
            fields.update({_GROUPED[key]: value for key, value in argument.items()})
        else:
            method(argument)
            fields[_FIELD_OF[setter]] = argument
    for gates in ("quality_gates_run", "quality_gates_failed"):
        if fields[gates] is None:
            fields[gates] = []
    fixed = {"event_id", "timestamp"} & fields.keys()

    built = _outcome(builder.build)
    constructed = _outcome(lambda: TaskCompletionEvent(**fields))

    assert constructed == built
    if built[0] == "event" and fixed:
        event = builder.build()
        reference = TaskCompletionEvent(**fields)
        assert [getattr(reference, name) for name in sorted(fixed)] == [getattr(event, name) for name in sorted(fixed)]


def test_build_fills_a_fresh_id_and_the_time_as_the_constructor_does() -> None:
    """Unset, event_id and timestamp get the event's own defaults: a new UUID4 per build, the current UTC time."""
    builder = EventBuilder(INSTANCE_ID)
    before = datetime.now(UTC)
    first, second = builder.build(), builder.build()
    assert (4, 4) == (first.event_id.version, second.event_id.version)
    assert first.event_id != second.event_id
    assert before <= first.timestamp <= second.timestamp <= datetime.now(UTC)


def test_a_required_field_the_builder_cannot_set_fails_loudly() -> None:
    """Should the event gain a required field the builder has no setter for, build() raises TypeError naming it
    (as the constructor would), rather than making an event without it."""

    @attrs.define(kw_only=True)
    class Wider(TaskCompletionEvent):
        reviewer: str

    make = _compile_make(Wider)
    with pytest.raises(TypeError, match="'reviewer'"):
        make([*EventBuilder(INSTANCE_ID)._values, _UNSET])  # what a builder of that event would hold
