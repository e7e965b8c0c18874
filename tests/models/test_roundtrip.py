"""Hypothesis round trips: every valid model survives unstructure → JSON → structure unchanged, on both JSON paths.

The strategies follow the API reference's documented ranges. Inputs come in every accepted form (UUID or its string
spellings, enum member or value, aware datetime at any offset, naive datetime, ISO 8601 string with ``Z`` or an
offset, lists or tuples of gates) and each test also checks the conversion to the documented type.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicstack_telemetry import (
    BatchEventRequest,
    BatchEventResponse,
    BatchEventResult,
    Complexity,
    CorrectionFactors,
    Harness,
    Outcome,
    PredictionData,
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
    _wire,
)

from ._support import stdlib_json

UTC = timezone.utc
_E = TypeVar("_E", bound=Enum)
_T = TypeVar("_T")

# Years 2..9998 keep every offset conversion inside datetime's range; the edges are tested on their own
# (test_models.py::test_timestamp_at_the_edge_of_the_calendar_is_a_validation_error).
FIXED_OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
DATETIMES = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.one_of(st.none(), st.just(UTC), FIXED_OFFSETS),
)
TEXT = st.text(max_size=40)
COUNT = st.integers(0, 2**63 - 1)

ROUND_TRIP = settings(max_examples=60, deadline=None)


def as_utc(value: datetime) -> datetime:
    """The documented normalisation: naive is taken as UTC, an aware datetime is converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@st.composite
def uuid_input(draw: st.DrawFn) -> tuple[Any, UUID]:
    """A UUID in one of its accepted spellings, and the UUID it means."""
    value = draw(st.uuids())
    spellings: list[Any] = [
        value,
        str(value),
        str(value).upper(),
        value.hex,
        f"{{{value}}}",
        value.urn,
    ]
    return draw(st.sampled_from(spellings)), value


@st.composite
def datetime_input(draw: st.DrawFn) -> tuple[Any, datetime]:
    """A datetime (aware at any offset, or naive) or its ISO 8601 text, and the UTC datetime it means."""
    value = draw(DATETIMES)
    spellings: list[Any] = [value, value.isoformat()]
    if value.tzinfo is UTC:
        spellings.append(value.isoformat().replace("+00:00", "Z"))
    return draw(st.sampled_from(spellings)), as_utc(value)


@st.composite
def enum_input(draw: st.DrawFn, enum: type[_E]) -> tuple[Any, _E]:
    """An enum member or its value string, and the member."""
    member = draw(st.sampled_from(enum))
    return draw(st.sampled_from([member, member.value])), member


@st.composite
def gates_input(draw: st.DrawFn) -> tuple[Any, list[QualityGate]]:
    """Gates as a list of members, a list of values, or a tuple; and the list of members."""
    members = draw(st.lists(st.sampled_from(QualityGate), max_size=8))
    form = draw(st.sampled_from(["members", "values", "tuple"]))
    if form == "values":
        return [gate.value for gate in members], members
    if form == "tuple":
        return tuple(members), members
    return list(members), members


def _split(
    draw: st.DrawFn,
    name: str,
    strategy: st.SearchStrategy[tuple[Any, Any]],
    kw: dict[str, Any],
    exp: dict[str, Any],
) -> None:
    kw[name], exp[name] = draw(strategy)


def _same(
    draw: st.DrawFn,
    name: str,
    strategy: st.SearchStrategy[_T],
    kw: dict[str, Any],
    exp: dict[str, Any],
) -> None:
    kw[name] = exp[name] = draw(strategy)


@st.composite
def event_input(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments of a valid event (documented ranges, any accepted input form) and the expected fields."""
    kw: dict[str, Any] = {}
    exp: dict[str, Any] = {}
    _split(draw, "instance_id", uuid_input(), kw, exp)
    if draw(st.booleans()):
        _split(draw, "event_id", uuid_input(), kw, exp)
    if draw(st.booleans()):
        kw["schema_version"] = "1.0"
    exp["schema_version"] = "1.0"
    if draw(st.booleans()):
        _split(draw, "timestamp", datetime_input(), kw, exp)
    _same(draw, "task_duration_ms", st.integers(0, 86_400_000), kw, exp)
    _split(draw, "task_type", enum_input(TaskType), kw, exp)
    _split(draw, "complexity", enum_input(Complexity), kw, exp)
    _split(draw, "harness", enum_input(Harness), kw, exp)
    _same(draw, "model", st.text(min_size=1, max_size=100), kw, exp)
    _split(draw, "provider", enum_input(Provider), kw, exp)
    for name in (
        "estimated_input_tokens",
        "estimated_output_tokens",
        "actual_input_tokens",
        "actual_output_tokens",
    ):
        _same(draw, name, st.integers(0, 10_000_000), kw, exp)
    for name in ("estimated_cost_usd_micros", "actual_cost_usd_micros"):
        _same(draw, name, st.integers(0, 100_000_000), kw, exp)
    _same(draw, "quality_gate_passed", st.booleans(), kw, exp)
    for name in ("quality_gates_run", "quality_gates_failed"):
        if draw(st.booleans()):
            _split(draw, name, gates_input(), kw, exp)
        else:
            exp[name] = []
    _same(draw, "context_compactions", st.integers(0, 100), kw, exp)
    _same(draw, "context_rotations", st.integers(0, 50), kw, exp)
    _same(draw, "context_utilization_final", st.floats(0.0, 1.0), kw, exp)
    _split(draw, "outcome", enum_input(Outcome), kw, exp)
    _same(draw, "retry_count", st.integers(0, 20), kw, exp)
    if draw(st.booleans()):
        _same(draw, "language", st.one_of(st.none(), st.text(max_size=30)), kw, exp)
    else:
        exp["language"] = None
    if draw(st.booleans()):
        _split(
            draw,
            "repo_size_category",
            st.one_of(st.just((None, None)), enum_input(RepoSizeCategory)),
            kw,
            exp,
        )
    else:
        exp["repo_size_category"] = None
    return kw, exp


def wire_round_trip(obj: _T, model: type[_T]) -> _T:
    """unstructure → JSON text → structure, through ``_wire`` (whichever JSON library it uses)."""
    return _wire.parse(_wire.dumps(obj), model)


def stdlib_round_trip(obj: Any, model: type[_T]) -> _T:
    """The JSON converter's plain data → stdlib ``json`` text → structure."""
    text = json.dumps(_wire.json_converter.unstructure(obj))
    return _wire.structure(json.loads(text), model)


def assert_survives_every_path(obj: Any, model: type[Any]) -> None:
    """``obj`` comes back equal through orjson, stdlib json, model_dump/model_validate; both encoders agree."""
    fast = _wire.dumps(obj)
    assert obj == _wire.parse(fast, model)
    assert obj == stdlib_round_trip(obj, model)
    assert obj == model.model_validate(obj.model_dump(mode="python"))
    assert obj == model.model_validate(obj.model_dump(mode="json"))
    assert obj == model.model_validate_json(obj.model_dump_json())
    with stdlib_json():
        slow = _wire.dumps(obj)
        assert obj == _wire.parse(slow, model)
    assert json.loads(fast) == json.loads(slow)


@ROUND_TRIP
@given(event_input())
def test_every_valid_event_is_converted_to_the_documented_types(
    drawn: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """Any valid input builds an event whose fields are the documented types and values."""
    kwargs, expected = drawn
    event = TaskCompletionEvent(**kwargs)
    actual = {name: getattr(event, name) for name in expected}
    assert expected == actual
    for name, value in expected.items():
        assert type(value) is type(actual[name]), name
    assert UTC is event.timestamp.tzinfo
    assert isinstance(event.event_id, UUID)
    assert 4 == event.event_id.version or "event_id" in kwargs


@ROUND_TRIP
@given(event_input())
def test_every_valid_event_survives_the_wire_unchanged(
    drawn: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """Every valid event survives unstructure → JSON → structure unchanged, on both JSON paths."""
    event = TaskCompletionEvent(**drawn[0])
    assert_survives_every_path(event, TaskCompletionEvent)


@settings(max_examples=20, deadline=None)
@given(st.lists(event_input(), min_size=1, max_size=5))
def test_every_valid_batch_request_survives_the_wire_unchanged(
    drawn: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    """A batch request of valid events survives the wire unchanged, events in order."""
    request = BatchEventRequest(events=[TaskCompletionEvent(**kwargs) for kwargs, _ in drawn])
    assert_survives_every_path(request, BatchEventRequest)


BATCH_RESULTS = st.builds(
    BatchEventResult,
    event_id=st.uuids(),
    status=st.sampled_from(["accepted", "rejected"]),
    error=st.one_of(st.none(), TEXT),
)
BATCH_RESPONSES = st.builds(
    BatchEventResponse,
    accepted=st.integers(0, 100),
    rejected=st.integers(0, 100),
    results=st.lists(BATCH_RESULTS, max_size=5),
)


@ROUND_TRIP
@given(BATCH_RESPONSES)
def test_every_batch_response_survives_the_wire_unchanged(response: BatchEventResponse) -> None:
    """Any valid batch response survives the wire unchanged."""
    assert_survives_every_path(response, BatchEventResponse)


DISTRIBUTIONS = st.builds(TokenDistribution, p10=COUNT, p25=COUNT, median=COUNT, p75=COUNT, p90=COUNT)
RATES = st.floats(0.0, 1.0)
PREDICTION_DATA = st.builds(
    PredictionData,
    input_tokens=DISTRIBUTIONS,
    output_tokens=DISTRIBUTIONS,
    cost_usd_micros=st.dictionaries(TEXT, COUNT, max_size=3),
    duration_ms=st.dictionaries(TEXT, COUNT, max_size=3),
    correction_factors=st.builds(
        CorrectionFactors,
        input=st.floats(0.0, allow_infinity=False),
        output=st.floats(0.0, allow_infinity=False),
    ),
    quality=st.builds(QualityPrediction, gate_pass_rate=RATES, success_rate=RATES),
)
METADATA = st.builds(
    PredictionMetadata,
    sample_size=COUNT,
    fallback_level=st.integers(-1, 100),
    confidence=st.sampled_from(["high", "medium", "low", "none"]),
    last_updated=st.one_of(st.none(), DATETIMES),
    dimensions_matched=st.one_of(st.none(), st.dictionaries(TEXT, st.one_of(st.none(), TEXT), max_size=4)),
    fallback_note=st.one_of(st.none(), TEXT),
    cache_hit=st.booleans(),
)
PREDICTION_RESPONSES = st.builds(
    PredictionResponse, prediction=st.one_of(st.none(), PREDICTION_DATA), metadata=METADATA
)


@ROUND_TRIP
@given(PREDICTION_RESPONSES)
def test_every_prediction_response_survives_the_wire_unchanged(
    response: PredictionResponse,
) -> None:
    """Any valid prediction response (with or without data) survives the wire unchanged."""
    assert_survives_every_path(response, PredictionResponse)


QUERIES = st.builds(
    PredictionQuery,
    task_type=st.sampled_from(TaskType),
    model=st.text(min_size=1, max_size=100),
    provider=st.sampled_from(Provider),
    complexity=st.sampled_from(Complexity),
)


@ROUND_TRIP
@given(QUERIES)
def test_every_prediction_query_survives_the_wire_unchanged(query: PredictionQuery) -> None:
    """Any valid prediction query survives the wire unchanged and keeps its hash (it is a cache key)."""
    assert_survives_every_path(query, PredictionQuery)
    assert hash(query) == hash(wire_round_trip(query, PredictionQuery))
