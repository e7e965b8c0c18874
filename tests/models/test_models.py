"""The models: defaults, conversions, mutability, slots, the pydantic-style methods, and reply parsing."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import attrs
import pytest

from mosaicstack_telemetry import (
    BatchEventRequest,
    BatchEventResponse,
    BatchEventResult,
    Complexity,
    CorrectionFactors,
    Harness,
    Outcome,
    PredictionMetadata,
    PredictionQuery,
    PredictionResponse,
    Provider,
    QualityGate,
    QualityPrediction,
    RepoSizeCategory,
    TaskCompletionEvent,
    TaskType,
    TokenDistribution,
    ValidationError,
    _converters,
    _model,
    _rules,
    _schema,
    _wire,
)
from mosaicstack_telemetry.batch import MAX_BATCH_SIZE
from mosaicstack_telemetry.events import SCHEMA_VERSION

from ._support import (
    EVENT_ID,
    INSTANCE_ID,
    TIMESTAMP,
    batch_event_response,
    empty_prediction_response,
    full_event,
    full_prediction_response,
    golden,
    prediction_query,
    valid_event_kwargs,
)

UTC = timezone.utc

ALL_MODELS: list[Any] = [
    full_event(),
    BatchEventRequest(events=[full_event()]),
    batch_event_response(),
    BatchEventResult(event_id=EVENT_ID, status="accepted"),
    prediction_query(),
    full_prediction_response(),
    empty_prediction_response(),
    TokenDistribution(p10=1, p25=2, median=3, p75=4, p90=5),
    CorrectionFactors(input=1.0, output=1.0),
    QualityPrediction(gate_pass_rate=0.5, success_rate=0.5),
    PredictionMetadata(sample_size=0, fallback_level=-1, confidence="none"),
]
ALL_MODEL_IDS = [type(model).__name__ for model in ALL_MODELS]


def event(**overrides: Any) -> TaskCompletionEvent:
    """A valid event with ``overrides``."""
    return TaskCompletionEvent(**valid_event_kwargs(**overrides))


# -- defaults --------------------------------------------------------------------------------------------------------


def test_event_id_defaults_to_a_fresh_uuid4() -> None:
    """Without an event_id each event gets its own random version-4 UUID."""
    ids = [event().event_id for _ in range(1000)]
    assert all(isinstance(event_id, UUID) and 4 == event_id.version for event_id in ids)
    assert 1000 == len(set(ids))


def test_schema_version_defaults_to_1_0() -> None:
    """schema_version is "1.0", the event schema this SDK writes."""
    assert "1.0" == event().schema_version == SCHEMA_VERSION


def test_timestamp_defaults_to_now_in_utc() -> None:
    """Without a timestamp the event takes the current time, aware, in UTC."""
    before = datetime.now(UTC)
    stamp = event().timestamp
    after = datetime.now(UTC)
    assert UTC is stamp.tzinfo
    assert before <= stamp <= after


def test_gate_lists_default_to_fresh_empty_lists() -> None:
    """Both gate lists default to ``[]``, a new list for each event (never shared)."""
    first, second = event(), event()
    assert ([], []) == (first.quality_gates_run, first.quality_gates_failed)
    assert first.quality_gates_run is not second.quality_gates_run
    assert first.quality_gates_failed is not second.quality_gates_failed
    assert first.quality_gates_run is not first.quality_gates_failed
    first.quality_gates_run.append(QualityGate.LINT)
    assert [] == second.quality_gates_run


# PACKAGE BUG (drop-in divergence from pydantic, which always builds a new list): `_converters.to_enum_list` returns the
# caller's own list when it already holds only members (and an empty list too), so an event shares the list it was
# given; code that reuses one list for several events (clear + extend, then track) changes events already queued.
# Fix: in `to_enum_list`, `return list(values)` (or `values.copy()`) on the list fast path, as the tuple path does.
def test_gate_list_given_to_the_constructor_is_copied() -> None:
    """An event keeps its own copy of the gate lists it was given: later changes to the caller's list do not leak."""
    gates = [QualityGate.LINT]
    empty: list[QualityGate] = []
    first = event(quality_gates_run=gates, quality_gates_failed=empty)
    gates.append(QualityGate.TEST)
    empty.append(QualityGate.LINT)
    assert ([QualityGate.LINT], []) == (first.quality_gates_run, first.quality_gates_failed)


def test_optional_fields_default_to_none() -> None:
    """language and repo_size_category default to None; a batch response's results to []."""
    assert (None, None) == (event().language, event().repo_size_category)
    assert [] == BatchEventResponse(accepted=0, rejected=0).results
    metadata = PredictionMetadata(sample_size=0, fallback_level=-1, confidence="none")
    assert (None, None, None, False) == (
        metadata.last_updated,
        metadata.dimensions_matched,
        metadata.fallback_note,
        metadata.cache_hit,
    )
    assert None is BatchEventResult(event_id=EVENT_ID, status="accepted").error


# -- conversions -----------------------------------------------------------------------------------------------------


def test_uuid_strings_become_uuids() -> None:
    """instance_id and event_id given as strings (any accepted spelling) are UUID objects."""
    upper = event(instance_id=INSTANCE_ID.upper(), event_id="{" + EVENT_ID + "}")
    assert UUID(INSTANCE_ID) == upper.instance_id
    assert UUID(EVENT_ID) == upper.event_id
    assert UUID is type(upper.instance_id) is type(upper.event_id)
    result = BatchEventResult(event_id=EVENT_ID, status="accepted")
    assert UUID(EVENT_ID) == result.event_id


def test_enum_values_become_members() -> None:
    """Enum fields given as value strings hold the enum members."""
    converted = event(
        task_type="testing",
        complexity="low",
        harness="aider",
        provider="openai",
        outcome="timeout",
        repo_size_category="huge",
        quality_gates_run=["lint", QualityGate.TEST],
    )
    assert (
        TaskType.TESTING,
        Complexity.LOW,
        Harness.AIDER,
        Provider.OPENAI,
        Outcome.TIMEOUT,
        RepoSizeCategory.HUGE,
        [QualityGate.LINT, QualityGate.TEST],
    ) == (
        converted.task_type,
        converted.complexity,
        converted.harness,
        converted.provider,
        converted.outcome,
        converted.repo_size_category,
        converted.quality_gates_run,
    )
    assert TaskType is type(converted.task_type)
    assert all(QualityGate is type(gate) for gate in converted.quality_gates_run)
    query = PredictionQuery(task_type="testing", model="m", provider="openai", complexity="low")
    assert (TaskType.TESTING, Provider.OPENAI, Complexity.LOW) == (
        query.task_type,
        query.provider,
        query.complexity,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 1, 12), datetime(2026, 1, 1, 12, tzinfo=UTC)),
        (
            datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 1, 1, 10, tzinfo=UTC),
        ),
        (
            datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            datetime(2026, 1, 1, 6, 0, tzinfo=UTC),
        ),
        ("2026-01-01T12:00:00Z", datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ("2026-01-01T12:00:00z", datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ("2026-01-01T12:00:00.123456+00:00", datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T14:00:00+02:00", datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ("2026-01-01T12:00:00", datetime(2026, 1, 1, 12, tzinfo=UTC)),
    ],
    ids=[
        "naive",
        "plus-2h",
        "minus-5h30",
        "Z",
        "lowercase-z",
        "fraction",
        "offset-text",
        "naive-text",
    ],
)
def test_timestamps_are_converted_to_aware_utc(value: Any, expected: datetime) -> None:
    """Naive is taken as UTC, other offsets converted, ISO text (with Z or an offset) parsed: always aware UTC."""
    stamp = event(timestamp=value).timestamp
    assert expected == stamp
    assert UTC is stamp.tzinfo
    assert expected.utcoffset() == stamp.utcoffset()


# PACKAGE BUG on Python 3.10 only (passes on 3.11+): `to_datetime` relies on `datetime.fromisoformat`, which on 3.10
# reads only what `isoformat()` writes: a fraction of exactly 3 or 6 digits. ISO 8601 text from other servers (Go's
# RFC3339Nano writes 1-9 digits, trailing zeros trimmed) is then "not an ISO 8601 date-time" there, and a whole
# prediction reply is rejected for its `last_updated`. Fix: after the "Z" rewrite, pad or cut the fraction to 6
# digits before `fromisoformat`: `_FRACTION = re.compile(r"(\.\d+)")`,
# `text = _FRACTION.sub(lambda m: (m[1] + "000000")[:7], text, 1)` (the date part holds no ".").
@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2026-01-01T12:00:00.5Z", 500000),
        ("2026-01-01T12:00:00.123Z", 123000),
        ("2026-01-01T12:00:00.1234Z", 123400),
        ("2026-01-01T12:00:00.123456789Z", 123456),
    ],
    ids=["1-digit", "3-digits", "4-digits", "9-digits"],
)
def test_iso_fractions_of_any_length_are_parsed(text: str, micros: int) -> None:
    """ISO 8601 text with a fraction of any length is read (truncated to microseconds), on every Python version."""
    expected = datetime(2026, 1, 1, 12, 0, 0, micros, tzinfo=UTC)
    assert expected == event(timestamp=text).timestamp
    metadata = {"sample_size": 1, "fallback_level": 0, "confidence": "low", "last_updated": text}
    assert expected == PredictionMetadata.model_validate(metadata).last_updated


def test_last_updated_is_converted_like_timestamp() -> None:
    """A prediction's last_updated text is parsed to an aware UTC datetime."""
    metadata = PredictionMetadata(
        sample_size=1, fallback_level=0, confidence="high", last_updated="2026-02-15T07:00:00+01:00"
    )
    assert datetime(2026, 2, 15, 6, tzinfo=UTC) == metadata.last_updated
    assert metadata.last_updated is not None
    assert UTC is metadata.last_updated.tzinfo


# PACKAGE BUG: `_converters.to_datetime` calls `value.astimezone(UTC)` unguarded, so a timestamp whose UTC equivalent
# falls outside datetime's range (year 1 at a positive offset, year 9999 at a negative one) raises OverflowError
# from the attrs converter, half-way through __init__ — not a ValidationError, and no other field is reported. The
# same escapes `model_validate_json` on a reply's `last_updated`, so a bad server reply is not a ValidationError.
# Fix: in `to_datetime`, `try: return value.astimezone(UTC) except OverflowError: return value`, and in
# `DateTime.convert` reject a datetime whose tzinfo is not UTC (e.g. `raise _Bad("is out of range in UTC")`).
@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
        "0001-01-01T00:00:00+05:00",
    ],
    ids=["year-1-plus-5h", "year-9999-minus-5h", "iso-text"],
)
def test_timestamp_at_the_edge_of_the_calendar_is_a_validation_error(value: Any) -> None:
    """A timestamp that has no UTC equivalent is a ValidationError naming it, with the other bad fields."""
    with pytest.raises(ValidationError) as caught:
        event(timestamp=value, retry_count=-1)
    assert 2 == len(caught.value.errors)
    assert caught.value.errors[0].startswith(f"timestamp={value!r} ")
    body = json.dumps(
        {
            "sample_size": 1,
            "fallback_level": 0,
            "confidence": "low",
            "last_updated": "0001-01-01T00:00:00+05:00",
        }
    )
    with pytest.raises(ValidationError):
        PredictionMetadata.model_validate_json(body)


def test_other_conversions() -> None:
    """An integral float becomes an int, an int utilization a float, a tuple of gates a list."""
    converted = event(task_duration_ms=1000.0, context_utilization_final=1, quality_gates_run=("lint",))
    assert (1000, int) == (converted.task_duration_ms, type(converted.task_duration_ms))
    assert (1.0, float) == (
        converted.context_utilization_final,
        type(converted.context_utilization_final),
    )
    assert [QualityGate.LINT] == converted.quality_gates_run
    assert list is type(converted.quality_gates_run)
    assert list is type(BatchEventRequest(events=(full_event(),)).events)  # type: ignore[arg-type]


def test_gates_given_as_any_iterable_become_a_list() -> None:
    """Gates from a generator are read into a list of members."""
    converted = event(quality_gates_failed=(gate for gate in ["build", "test"]))
    assert [QualityGate.BUILD, QualityGate.TEST] == converted.quality_gates_failed


def test_uuid_conversion_cache_stays_bounded_and_correct() -> None:
    """Many distinct id strings all convert correctly (the string → UUID cache is bounded and cleared)."""
    ids = [UUID(int=n) for n in range(1, 600)]
    for value in ids:
        assert value == _converters.to_uuid(str(value))
        assert value == _converters.to_uuid(str(value))
    assert len(_converters._UUID_CACHE) <= _converters._UUID_CACHE_LIMIT


def test_schema_conversion_helpers_hand_back_what_they_cannot_convert() -> None:
    """The converters never raise: what they cannot convert comes back unchanged for the validator."""
    schema: Any = _converters  # the helpers are typed for good input; here they get bad input on purpose
    marker = object()
    assert marker is schema.to_uuid(marker)
    assert "nope" == schema.to_uuid("nope")
    assert [1] == schema.to_enum(TaskType, [1])  # unhashable
    assert "x" == schema.to_enum_list(QualityGate, "x")
    assert 5 == schema.to_enum_list(QualityGate, 5)
    assert ["lint", "x"] == schema.to_enum_list(QualityGate, ("lint", "x"))
    assert 5 == schema.to_datetime(5)
    assert "nope" == schema.to_datetime("nope")
    assert "<missing>" == repr(_rules.MISSING)


# -- mutability, hashing, slots --------------------------------------------------------------------------------------


def test_events_are_mutable_and_assignment_is_not_revalidated() -> None:
    """Like the original's pydantic models, fields can be assigned, and the value is kept as given."""
    mutable = event()
    mutable.task_duration_ms = -5
    mutable.provider = "not-a-provider"  # type: ignore[assignment]
    mutable.language = "rust"
    assert (-5, "not-a-provider", "rust") == (
        mutable.task_duration_ms,
        mutable.provider,
        mutable.language,
    )
    response = batch_event_response()
    response.accepted = 2
    assert 2 == response.accepted


def test_prediction_query_is_hashable_and_equal_by_value() -> None:
    """Two queries with the same values (members or value strings) are equal, hash alike and share a dict key."""
    by_member = PredictionQuery(
        task_type=TaskType.IMPLEMENTATION,
        model="claude-sonnet-4-5-20250929",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.MEDIUM,
    )
    by_value = prediction_query()
    assert by_member == by_value
    assert hash(by_member) == hash(by_value)
    cache = {by_member: "cached"}
    assert "cached" == cache[by_value]
    assert by_value not in {prediction_query().model_copy(update={"model": "other"}): 1}
    assert by_member != PredictionQuery(
        task_type=TaskType.IMPLEMENTATION,
        model="claude-sonnet-4-5-20250929",
        provider=Provider.ANTHROPIC,
        complexity=Complexity.HIGH,
    )


def test_prediction_query_is_frozen() -> None:
    """A query cannot be changed in place (it is a cache key); model_copy(update=...) makes a changed copy."""
    query = prediction_query()
    with pytest.raises(AttributeError):
        query.model = "other"  # type: ignore[misc]
    assert "other" == query.model_copy(update={"model": "other"}).model
    assert "claude-sonnet-4-5-20250929" == query.model


@pytest.mark.parametrize("model", ALL_MODELS, ids=ALL_MODEL_IDS)
def test_models_are_slotted(model: Any) -> None:
    """No model instance has a ``__dict__``; an unknown attribute cannot be set."""
    assert not hasattr(model, "__dict__")
    assert attrs.has(type(model))
    with pytest.raises(AttributeError):
        model.no_such_field = 1


@pytest.mark.parametrize("model", ALL_MODELS, ids=ALL_MODEL_IDS)
def test_models_copy_and_pickle_equal(model: Any) -> None:
    """copy, deepcopy, model_copy and pickle give equal models."""
    assert model == copy.copy(model)
    assert model == copy.deepcopy(model)
    assert model == model.model_copy()
    assert model == model.model_copy(deep=True)
    assert model == pickle.loads(pickle.dumps(model))  # noqa: S301 - our own bytes


def test_models_are_not_equal_to_other_types() -> None:
    """A model is not equal to its JSON dict nor to its python dump."""
    dumped: Any = full_event().model_dump()
    assert full_event() != golden("event")
    assert full_event() != dumped


# -- model_dump ------------------------------------------------------------------------------------------------------


def test_model_dump_python_keeps_python_objects() -> None:
    """mode="python" (the default) keeps UUID, datetime and enum objects, and gate members."""
    data = full_event().model_dump()
    assert data == full_event().model_dump(mode="python")
    assert UUID(INSTANCE_ID) == data["instance_id"]
    assert UUID is type(data["instance_id"]) is type(data["event_id"])
    assert TIMESTAMP == data["timestamp"]
    assert datetime is type(data["timestamp"])
    assert TaskType.IMPLEMENTATION is data["task_type"]
    assert RepoSizeCategory.MEDIUM is data["repo_size_category"]
    assert [QualityGate.COVERAGE] == data["quality_gates_failed"]
    assert QualityGate is type(data["quality_gates_failed"][0])
    assert list(attrs.fields_dict(TaskCompletionEvent)) == list(data)


def test_model_dump_python_of_nested_models_gives_dicts() -> None:
    """Nested models are dumped as dicts, recursively, in mode="python"."""
    data = full_prediction_response().model_dump()
    assert 112000 == data["prediction"]["input_tokens"]["median"]
    assert datetime(2026, 2, 15, 6, tzinfo=UTC) == data["metadata"]["last_updated"]
    results = batch_event_response().model_dump()["results"]
    assert UUID(EVENT_ID) == results[0]["event_id"]


def _json_types(value: Any) -> set[type]:
    if isinstance(value, dict):
        return {dict}.union(*(_json_types(v) for v in value.values())) | {type(k) for k in value}
    if isinstance(value, list):
        return {list}.union(*(_json_types(v) for v in value))
    return {type(value)}


# PACKAGE BUG: `model_dump(mode="json")` leaves enum members (str subclasses) in place of their plain value strings,
# at top level and inside the gate lists. `_wire._make_converter(native=False)` registers the enum hook with
# `register_unstructure_hook_func(_is_enum, ...)`, but cattrs tries its singledispatch table first, where the enums
# match the built-in `str` → identity hook through their MRO, so the function hook is never reached. (The JSON text is
# still right: json/orjson write a str enum as its value.) Fix: register it in the singledispatch table on the common
# base, which precedes `str` in every enum's MRO: `converter.register_unstructure_hook(_WireEnum, lambda m: m.value)`
# (or one `register_unstructure_hook(E, ...)` per enum class).
@pytest.mark.parametrize("model", ALL_MODELS, ids=ALL_MODEL_IDS)
def test_model_dump_json_mode_gives_plain_json_types(model: Any) -> None:
    """mode="json" gives only plain dict/list/str/int/float/bool/None (no enum str subclasses, UUIDs, datetimes)."""
    data = model.model_dump(mode="json")
    assert _json_types(data) <= {dict, list, str, int, float, bool, type(None)}
    assert data == json.loads(json.dumps(data))


# PACKAGE BUG: enum values come out as enum members, not plain str (see the comment above).
def test_model_dump_json_mode_values() -> None:
    """mode="json" writes canonical UUID strings, ISO timestamps with offset and enum value strings."""
    data = full_event().model_dump(mode="json")
    assert (INSTANCE_ID, EVENT_ID, "2026-02-15T12:30:45.123456+00:00") == (
        data["instance_id"],
        data["event_id"],
        data["timestamp"],
    )
    assert ("implementation", str) == (data["task_type"], type(data["task_type"]))
    assert ["build", "lint", "test", "coverage"] == data["quality_gates_run"]
    assert golden("event") == data


def test_model_dump_include_exclude_and_exclude_none() -> None:
    """include keeps only the named fields, exclude drops them, exclude_none drops None values."""
    plain = event()
    assert {"model": plain.model, "retry_count": 0} == plain.model_dump(include=["model", "retry_count"])
    assert "model" not in plain.model_dump(exclude={"model"})
    assert len(plain.model_dump()) - 1 == len(plain.model_dump(exclude={"model"}))
    dumped = plain.model_dump(exclude_none=True, mode="json")
    assert "language" not in dumped
    assert "repo_size_category" not in dumped
    assert [] == dumped["quality_gates_run"]
    assert {"model": plain.model} == plain.model_dump(include={"model", "language"}, exclude_none=True)


def test_model_dump_rejects_an_unknown_mode() -> None:
    """An unknown mode raises ValueError naming it."""
    with pytest.raises(ValueError, match="'yaml'"):
        event().model_dump(mode="yaml")  # type: ignore[arg-type]


def test_model_dump_json() -> None:
    """model_dump_json is the compact wire text; indent pretty-prints; exclude_none drops None values."""
    full = full_event()
    assert _wire.dumps(full).decode() == full.model_dump_json()
    assert "\n" not in full.model_dump_json()
    pretty = full.model_dump_json(indent=2)
    assert pretty.startswith('{\n  "instance_id": ')
    assert golden("event") == json.loads(pretty)
    sparse = json.loads(event().model_dump_json(exclude_none=True))
    assert "language" not in sparse
    assert "repo_size_category" not in sparse


# -- model_validate, model_validate_json ------------------------------------------------------------------------------


def test_model_validate_reads_json_types_and_python_objects() -> None:
    """model_validate builds an equal model from the JSON dict and from the python dump."""
    assert full_event() == TaskCompletionEvent.model_validate(golden("event"))
    assert full_event() == TaskCompletionEvent.model_validate(full_event().model_dump())
    assert full_prediction_response() == PredictionResponse.model_validate(full_prediction_response().model_dump())


def test_model_validate_of_an_instance_returns_it() -> None:
    """model_validate of an instance of the model returns that instance (as pydantic does by default)."""
    existing = full_event()
    assert existing is TaskCompletionEvent.model_validate(existing)


@pytest.mark.parametrize("kind", [str, bytes, bytearray])
def test_model_validate_json_reads_str_and_bytes(kind: Any) -> None:
    """model_validate_json accepts ``str``, ``bytes`` and ``bytearray``."""
    text = json.dumps(golden("batch_event_response"))
    data = text if kind is str else kind(text.encode())
    assert batch_event_response() == BatchEventResponse.model_validate_json(data)


@pytest.mark.parametrize("text", ["", "{", "nope", '{"accepted": 1,}'])
def test_model_validate_json_rejects_malformed_json(text: str) -> None:
    """Malformed JSON is a ValidationError ("invalid JSON: ..."), not a JSONDecodeError."""
    with pytest.raises(ValidationError) as caught:
        BatchEventResponse.model_validate_json(text)
    assert "BatchEventResponse" == caught.value.title
    assert 1 == len(caught.value.errors)
    assert caught.value.errors[0].startswith("invalid JSON: ")


@pytest.mark.parametrize(("text", "kind"), [("null", "null"), ("[]", "list"), ("5", "int"), ('"x"', "str")])
def test_model_validate_json_rejects_a_non_object(text: str, kind: str) -> None:
    """JSON that is not an object is rejected, naming what it is."""
    with pytest.raises(ValidationError) as caught:
        BatchEventResponse.model_validate_json(text)
    assert (f"expected an object, got {kind}",) == caught.value.errors


# -- model_copy ------------------------------------------------------------------------------------------------------


def test_model_copy_update_is_not_validated() -> None:
    """model_copy(update=...) assigns as given, like pydantic: no conversion, no error; the original is unchanged."""
    original = event()
    changed = original.model_copy(update={"retry_count": 99, "task_type": "testing"})
    assert (99, "testing") == (changed.retry_count, changed.task_type)
    assert (0, TaskType.IMPLEMENTATION) == (original.retry_count, original.task_type)
    assert original.event_id == changed.event_id


def test_model_copy_is_shallow_unless_deep() -> None:
    """A shallow copy shares the gate lists; deep=True (and copy.deepcopy) copies them."""
    original = full_event()
    shallow = original.model_copy()
    deep = original.model_copy(deep=True)
    assert shallow.quality_gates_run is original.quality_gates_run
    assert deep.quality_gates_run is not original.quality_gates_run
    assert deep.quality_gates_run == original.quality_gates_run
    assert copy.deepcopy(original).quality_gates_run is not original.quality_gates_run
    deep.quality_gates_run.append(QualityGate.SECURITY)
    assert QualityGate.SECURITY not in original.quality_gates_run


# -- replies: forward compatibility, wrong types, missing keys --------------------------------------------------------


def test_unknown_keys_in_replies_are_ignored() -> None:
    """Keys a model does not know are ignored at every level (a newer server may send more)."""
    data = golden("batch_event_response")
    data["server_time"] = "now"
    data["results"][0]["retry_after"] = 5
    assert batch_event_response() == BatchEventResponse.model_validate(data)
    prediction = golden("prediction_response_full")
    prediction["prediction"]["input_tokens"]["p99"] = 1
    prediction["prediction"]["new_block"] = {"x": 1}
    prediction["metadata"]["region"] = "eu"
    assert full_prediction_response() == PredictionResponse.model_validate(prediction)


def test_wrong_types_in_replies_are_rejected_by_path() -> None:
    """A wrong type deep in a reply is reported with its path: ``results[0].event_id``."""
    data = golden("batch_event_response")
    data["results"][0]["event_id"] = "not-a-uuid"
    data["results"][1]["status"] = 5
    data["accepted"] = "1"
    with pytest.raises(ValidationError) as caught:
        BatchEventResponse.model_validate(data)
    assert (
        "accepted='1' is not an integer",
        "results[0].event_id='not-a-uuid' is not a valid UUID",
        "results[1].status=5 is not a string",
    ) == caught.value.errors


def test_wrong_types_in_prediction_replies_are_rejected_by_path() -> None:
    """Paths go through nested models and mappings: ``prediction.input_tokens.p90``, ``prediction.quality``."""
    data = golden("prediction_response_full")
    data["prediction"]["input_tokens"]["p90"] = -1
    data["prediction"]["quality"] = "good"
    data["prediction"]["cost_usd_micros"] = {"median": "cheap"}
    data["metadata"]["confidence"] = None
    data["metadata"]["cache_hit"] = "yes"
    with pytest.raises(ValidationError) as caught:
        PredictionResponse.model_validate(data)
    assert (
        "prediction.input_tokens.p90=-1 is outside 0..9223372036854775807",
        "prediction.cost_usd_micros={'median': 'cheap'} has ['median']='cheap', which is not an integer",
        "prediction.quality='good' is not a QualityPrediction (nor a mapping)",
        "metadata.confidence=None is not a string",
        "metadata.cache_hit='yes' is not a bool",
    ) == caught.value.errors


def test_missing_required_keys_are_reported_as_required() -> None:
    """A missing required key is reported as "<path> is required", at any depth."""
    with pytest.raises(ValidationError) as caught:
        BatchEventResponse.model_validate({"accepted": 1, "results": [{"status": "accepted"}]})
    assert ("rejected is required", "results[0].event_id is required") == caught.value.errors
    data = golden("prediction_response_full")
    del data["prediction"]["input_tokens"]["median"]
    del data["metadata"]["sample_size"]
    with pytest.raises(ValidationError) as caught:
        PredictionResponse.model_validate(data)
    assert (
        "prediction.input_tokens.median is required",
        "metadata.sample_size is required",
    ) == caught.value.errors


def test_missing_optional_keys_take_their_defaults() -> None:
    """Optional keys may be absent from a reply: results [], error None, metadata defaults."""
    response = BatchEventResponse.model_validate(
        {"accepted": 1, "rejected": 0, "results": [{"event_id": EVENT_ID, "status": "accepted"}]}
    )
    assert None is response.results[0].error
    assert [] == BatchEventResponse.model_validate({"accepted": 0, "rejected": 0}).results
    minimal = PredictionResponse.model_validate(
        {
            "prediction": None,
            "metadata": {"sample_size": 0, "fallback_level": -1, "confidence": "none"},
        }
    )
    assert (
        empty_prediction_response().model_copy(
            update={"metadata": empty_prediction_response().metadata.model_copy(update={"fallback_note": None})}
        )
        == minimal
    )


def test_prediction_can_be_null_but_not_missing() -> None:
    """``prediction: null`` is the documented "no data"; a reply without the key is incomplete."""
    assert None is PredictionResponse.model_validate(golden("prediction_response_none")).prediction
    data = golden("prediction_response_none")
    del data["prediction"]
    with pytest.raises(ValidationError) as caught:
        PredictionResponse.model_validate(data)
    assert ("prediction is required",) == caught.value.errors


def test_reply_lists_and_mappings_of_the_wrong_shape() -> None:
    """results must be a list, mappings must be mappings with string keys and valid values."""
    with pytest.raises(ValidationError) as caught:
        BatchEventResponse.model_validate({"accepted": 0, "rejected": 0, "results": "none"})
    assert ("results='none' is not a list",) == caught.value.errors
    with pytest.raises(ValidationError) as caught:
        BatchEventResponse.model_validate({"accepted": 0, "rejected": 0, "results": {"a": 1}})
    assert ("results={'a': 1} is not a list",) == caught.value.errors
    base = {"sample_size": 1, "fallback_level": 0, "confidence": "low"}
    for dimensions, line in [
        ([1], "dimensions_matched=[1] is not a mapping"),
        ({1: "a"}, "dimensions_matched={1: 'a'} has a key 1 that is not a string"),
        ({"model": 5}, "dimensions_matched={'model': 5} has ['model']=5, which is not a string"),
    ]:
        with pytest.raises(ValidationError) as caught:
            PredictionMetadata(**base, dimensions_matched=dimensions)  # type: ignore[arg-type]
        assert (line,) == caught.value.errors


def test_prediction_value_rules() -> None:
    """Rates are 0..1, correction factors non-negative and unbounded above, fallback_level -1..100."""
    assert 12.5 == CorrectionFactors(input=12.5, output=0).input
    with pytest.raises(ValidationError) as caught:
        CorrectionFactors(input=-0.5, output=float("nan"))
    assert 2 == len(caught.value.errors)
    assert "input=-0.5 must be at least 0.0" == caught.value.errors[0]
    assert "output=nan is not a finite number" == caught.value.errors[1]
    with pytest.raises(ValidationError, match=r"gate_pass_rate=1\.5 is outside 0\.0\.\.1\.0"):
        QualityPrediction(gate_pass_rate=1.5, success_rate=0.5)
    with pytest.raises(ValidationError, match=r"fallback_level=-2 is outside -1\.\.100"):
        PredictionMetadata(sample_size=0, fallback_level=-2, confidence="none")
    with pytest.raises(ValidationError, match=r"confidence='' must be 1\.\.20 characters long"):
        PredictionMetadata(sample_size=0, fallback_level=-1, confidence="")


def test_nested_models_accept_instances_and_mappings() -> None:
    """A nested field takes a model instance or a mapping (validated into one)."""
    built = PredictionResponse(
        prediction=None,
        metadata={"sample_size": 0, "fallback_level": -1, "confidence": "none"},  # type: ignore[arg-type]
    )
    assert PredictionMetadata is type(built.metadata)
    with pytest.raises(ValidationError) as caught:
        PredictionResponse(prediction=None, metadata={"sample_size": 0})  # type: ignore[arg-type]
    assert (
        "metadata.fallback_level is required",
        "metadata.confidence is required",
    ) == caught.value.errors


def test_nested_model_subclass_instance_is_accepted() -> None:
    """An instance of a subclass of the nested model is accepted as it is."""

    @attrs.define(kw_only=True)
    class Extended(PredictionMetadata):
        region: str = "eu"

    metadata = Extended(sample_size=0, fallback_level=-1, confidence="none")
    assert metadata is PredictionResponse(prediction=None, metadata=metadata).metadata


# -- BatchEventRequest bounds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 99, MAX_BATCH_SIZE])
def test_batch_request_takes_1_to_100_events(count: int) -> None:
    """A batch request holds 1 to 100 events."""
    assert 100 == MAX_BATCH_SIZE
    assert count == len(BatchEventRequest(events=[full_event()] * count).events)


@pytest.mark.parametrize("count", [0, MAX_BATCH_SIZE + 1])
def test_batch_request_rejects_0_or_101_events(count: int) -> None:
    """An empty batch and one of 101 events are rejected, naming the count and the allowed range."""
    with pytest.raises(ValidationError) as caught:
        BatchEventRequest(events=[full_event()] * count)
    assert 1 == len(caught.value.errors)
    assert caught.value.errors[0].startswith("events=")
    assert caught.value.errors[0].endswith(f"has {count} items, expected 1..100")


def test_batch_request_rejects_a_non_list() -> None:
    """events must be a list of events."""
    with pytest.raises(ValidationError) as caught:
        BatchEventRequest(events="abc")  # type: ignore[arg-type]
    assert ("events='abc' is not a list",) == caught.value.errors
    with pytest.raises(ValidationError) as caught:
        BatchEventRequest(events=None)  # type: ignore[arg-type]
    assert ("events=None is not a list",) == caught.value.errors


def test_batch_request_validates_event_mappings() -> None:
    """Events given as mappings are validated into events."""
    request = BatchEventRequest(events=[golden("event")])
    assert [full_event()] == request.events


# -- the schema machinery --------------------------------------------------------------------------------------------


def test_rules_convert_on_the_slow_path() -> None:
    """Each rule's check() converts good input of another accepted type (what the validator calls on a miss)."""
    assert [QualityGate.LINT] == _rules.EnumList(QualityGate).check(("lint",))
    assert UUID(EVENT_ID) == _rules.IsUUID().check(EVENT_ID)
    assert TIMESTAMP == _rules.DateTime().check("2026-02-15T12:30:45.123456Z")
    assert None is _rules.DateTime(optional=True).check(None)
    assert 3 == _rules.IntRange(0, 5).check(3.0)
    with pytest.raises(_rules.BadValueError, match="is required"):
        _rules.IntRange(0, 5).check(_rules.MISSING)


def test_schema_skips_fields_without_a_rule() -> None:
    """A field without a rule is not checked; the others still are, and errors are still gathered."""

    @_schema.schema
    @attrs.define(kw_only=True)
    class Partly(_model.Model):
        free: Any = None
        count: int = attrs.field(default=0, metadata=_rules.rule(_rules.IntRange(0, 9)))

    assert object is type(Partly(free=object()).free)
    with pytest.raises(ValidationError) as caught:
        Partly(free="anything", count=10)
    assert ("count=10 is outside 0..9",) == caught.value.errors
    assert "Partly" == caught.value.title
