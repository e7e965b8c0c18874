"""Golden files pin the exact wire shape of the event, the batch bodies, prediction replies and envelopes.

Each golden file is hand-written from the API reference and design.md's "wire format" row; the code must produce it
(``json.loads(_wire.dumps(obj)) == golden``) on the orjson path and on the stdlib path, and parse it back into an
equal model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from mosaicstack_telemetry import (
    BatchEventRequest,
    BatchEventResponse,
    PredictionResponse,
    TaskCompletionEvent,
    ValidationError,
    _protocol,
    _wire,
)

from ._support import (
    API_KEY,
    batch_event_response,
    empty_prediction_response,
    full_event,
    full_prediction_response,
    golden,
    golden_bytes,
    other_prediction_query,
    prediction_query,
    stdlib_json,
    valid_event_kwargs,
)


@pytest.fixture(params=["orjson", "stdlib"])
def json_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with orjson and once with the stdlib ``json`` module behind ``_wire``."""
    backend: str = request.param
    if backend == "stdlib":
        monkeypatch.setattr(_wire, "orjson", None)
    else:
        assert _wire.orjson is orjson
    return backend


# (golden file, model, a factory of the object the golden file describes)
MODEL_GOLDENS: list[tuple[str, type[Any], Callable[[], Any]]] = [
    ("event", TaskCompletionEvent, full_event),
    ("batch_event_request", BatchEventRequest, lambda: BatchEventRequest(events=[full_event()])),
    ("batch_event_response", BatchEventResponse, batch_event_response),
    ("prediction_response_full", PredictionResponse, full_prediction_response),
    ("prediction_response_none", PredictionResponse, empty_prediction_response),
]
MODEL_GOLDEN_IDS = [name for name, _, _ in MODEL_GOLDENS]


@pytest.mark.parametrize(("name", "model", "factory"), MODEL_GOLDENS, ids=MODEL_GOLDEN_IDS)
def test_dumps_writes_the_golden_shape(
    json_backend: str, name: str, model: type[Any], factory: Callable[[], Any]
) -> None:
    """``_wire.dumps`` of each model writes exactly its golden JSON (same keys, values and JSON types)."""
    assert golden(name) == json.loads(_wire.dumps(factory()))


@pytest.mark.parametrize(("name", "model", "factory"), MODEL_GOLDENS, ids=MODEL_GOLDEN_IDS)
def test_golden_parses_back_into_an_equal_model(
    json_backend: str, name: str, model: type[Any], factory: Callable[[], Any]
) -> None:
    """The golden text parses (``_wire.parse``, ``model_validate_json``, ``model_validate``) into an equal model."""
    expected = factory()
    assert expected == _wire.parse(golden_bytes(name), model)
    assert expected == model.model_validate_json(golden_bytes(name).decode())
    assert expected == model.model_validate(golden(name))


@pytest.mark.parametrize(("name", "model", "factory"), MODEL_GOLDENS, ids=MODEL_GOLDEN_IDS)
def test_model_dump_json_modes_match_the_golden(
    json_backend: str, name: str, model: type[Any], factory: Callable[[], Any]
) -> None:
    """``model_dump(mode="json")`` and ``model_dump_json()`` (compact and indented) give the golden value."""
    obj = factory()
    assert golden(name) == obj.model_dump(mode="json")
    assert golden(name) == json.loads(obj.model_dump_json())
    assert golden(name) == json.loads(obj.model_dump_json(indent=2))


@pytest.mark.parametrize(("name", "model", "factory"), MODEL_GOLDENS, ids=MODEL_GOLDEN_IDS)
def test_orjson_and_stdlib_paths_agree(name: str, model: type[Any], factory: Callable[[], Any]) -> None:
    """The orjson and stdlib encoders give the same parsed JSON value, and each decoder reads the other's output."""
    obj = factory()
    fast = _wire.dumps(obj)
    with stdlib_json():
        slow = _wire.dumps(obj)
        assert obj == _wire.parse(fast, model)
    assert json.loads(fast) == json.loads(slow)
    assert obj == _wire.parse(slow, model)


@pytest.mark.parametrize(("name", "model", "factory"), MODEL_GOLDENS, ids=MODEL_GOLDEN_IDS)
def test_dumps_each_encodes_every_item_as_dumps_does(
    json_backend: str, name: str, model: type[Any], factory: Callable[[], Any]
) -> None:
    """The spool stores events one per row with ``dumps_each``: each row is exactly what ``dumps`` writes."""
    objs = [factory(), factory()]
    assert _wire.dumps_each(objs) == [_wire.dumps(obj) for obj in objs]
    assert [golden(name)] * 2 == [json.loads(row) for row in _wire.dumps_each(objs)]


def test_event_timestamp_is_iso_8601_with_utc_offset(json_backend: str) -> None:
    """A timestamp is written ISO 8601 with its ``+00:00`` offset, with or without microseconds, on both paths."""
    whole_second = datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)
    event = TaskCompletionEvent(**valid_event_kwargs(timestamp=whole_second))
    assert "2026-01-01T00:00:00+00:00" == json.loads(_wire.dumps(event))["timestamp"]
    shifted = datetime(2026, 1, 1, 2, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    event = TaskCompletionEvent(**valid_event_kwargs(timestamp=shifted))
    assert "2026-01-01T00:00:00.000005+00:00" == json.loads(_wire.dumps(event))["timestamp"]


def test_none_optionals_are_sent_as_null(json_backend: str) -> None:
    """An event without language and repo size sends both keys with ``null``, not omitted."""
    data = json.loads(_wire.dumps(TaskCompletionEvent(**valid_event_kwargs())))
    assert None is data["language"]
    assert None is data["repo_size_category"]
    assert [] == data["quality_gates_run"]
    assert [] == data["quality_gates_failed"]


def test_prediction_request_envelope_is_golden(json_backend: str) -> None:
    """``encode_prediction_request`` writes ``{"queries": [...]}`` exactly as the golden file, and decodes it back."""
    queries = [prediction_query(), other_prediction_query()]
    body = _protocol.encode_prediction_request(queries)
    assert golden("prediction_request") == json.loads(body)
    assert queries == _protocol.decode_prediction_request(golden_bytes("prediction_request"))
    assert queries == _protocol.decode_prediction_request(body.decode())


def test_prediction_response_envelope_is_golden(json_backend: str) -> None:
    """``encode_prediction_response`` writes ``{"results": [...]}`` in order, as the golden file, and decodes it."""
    results = [full_prediction_response(), empty_prediction_response()]
    body = _protocol.encode_prediction_response(results)
    assert golden("prediction_response") == json.loads(body)
    assert results == _protocol.decode_prediction_response(golden_bytes("prediction_response"))


def test_envelopes_agree_between_orjson_and_stdlib() -> None:
    """Both prediction envelopes parse to the same JSON value from the orjson and the stdlib encoders."""
    queries = [prediction_query(), other_prediction_query()]
    results = [full_prediction_response(), empty_prediction_response()]
    fast = (
        _protocol.encode_prediction_request(queries),
        _protocol.encode_prediction_response(results),
    )
    with stdlib_json():
        slow = (
            _protocol.encode_prediction_request(queries),
            _protocol.encode_prediction_response(results),
        )
    assert [json.loads(body) for body in fast] == [json.loads(body) for body in slow]


def test_empty_envelopes() -> None:
    """No queries and no results are written and read as empty lists."""
    assert {"queries": []} == json.loads(_protocol.encode_prediction_request([]))
    assert [] == _protocol.decode_prediction_request(b'{"queries": []}')
    assert [] == _protocol.decode_prediction_response(b'{"results": []}')


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"[1, 2"],
    ids=["empty", "truncated", "garbage", "unclosed"],
)
def test_envelope_with_invalid_json_is_rejected(json_backend: str, body: bytes) -> None:
    """Malformed JSON in an envelope raises ``ValidationError`` saying so, on both paths."""
    with pytest.raises(ValidationError) as caught:
        _protocol.decode_prediction_response(body)
    assert caught.value.title == "PredictionResponse batch"
    assert caught.value.errors[0].startswith("invalid JSON: ")


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"results": {}}', b'{"results": null}', b"{}", b'{"queries": []}', b"5"],
)
def test_response_envelope_of_the_wrong_shape_is_rejected(body: bytes) -> None:
    """A body that is not ``{"results": [...]}`` raises ``ValidationError`` naming the expected shape."""
    with pytest.raises(ValidationError) as caught:
        _protocol.decode_prediction_response(body)
    assert ('expected an object {"results": [...]}',) == caught.value.errors


def test_request_envelope_of_the_wrong_shape_is_rejected() -> None:
    """A request body that is not ``{"queries": [...]}`` raises ``ValidationError`` naming the expected shape."""
    with pytest.raises(ValidationError) as caught:
        _protocol.decode_prediction_request(b'{"results": []}')
    assert ('expected an object {"queries": [...]}',) == caught.value.errors
    assert "PredictionQuery batch" == caught.value.title


def test_envelope_errors_name_every_bad_item_by_path() -> None:
    """Every bad item of an envelope is reported, each line prefixed with its path (``results[i]``)."""
    good = golden("prediction_response_none")
    body = json.dumps(
        {
            "results": [
                good,
                5,
                {"prediction": None},
                {**good, "metadata": {**good["metadata"], "sample_size": "x"}},
            ]
        }
    )
    with pytest.raises(ValidationError) as caught:
        _protocol.decode_prediction_response(body)
    assert (
        "results[1]: expected an object, got int",
        "results[2].metadata is required",
        "results[3].metadata.sample_size='x' is not an integer",
    ) == caught.value.errors


def test_request_envelope_errors_name_the_query_path() -> None:
    """A bad query in a request envelope is reported as ``queries[i].<field>``."""
    body = {"queries": [{"task_type": "nope", "model": "m", "provider": "anthropic", "complexity": "low"}]}
    with pytest.raises(ValidationError) as caught:
        _protocol.decode_prediction_request(json.dumps(body).encode())
    assert 1 == len(caught.value.errors)
    assert caught.value.errors[0].startswith("queries[0].task_type='nope' is not one of ")


def test_envelope_ignores_unknown_keys() -> None:
    """Unknown keys, in the envelope and in its items, are ignored (a newer server may add some)."""
    item = {**golden("prediction_response_none"), "new_field": 1}
    item["metadata"] = {**item["metadata"], "region": "eu"}
    body = json.dumps({"results": [item], "server_version": "2"})
    assert [empty_prediction_response()] == _protocol.decode_prediction_response(body)


def test_protocol_constants() -> None:
    """The API paths and limits are the documented ones."""
    assert "v1" == _protocol.API_VERSION
    assert "/v1/events/batch" == _protocol.EVENTS_PATH
    assert "/v1/predictions/batch" == _protocol.PREDICTIONS_PATH
    assert 100 == _protocol.MAX_PREDICTION_QUERIES


def test_auth_headers() -> None:
    """Every request carries Bearer auth, the configured User-Agent and a JSON content type."""
    assert {
        "Authorization": f"Bearer {API_KEY}",
        "User-Agent": "agent/1.0",
        "Content-Type": "application/json",
    } == _protocol.auth_headers(API_KEY, "agent/1.0")


def test_loads_reads_every_input_type(json_backend: str) -> None:
    """``_wire.loads`` reads ``bytes``, ``bytearray`` and ``str``."""
    text = '{"a": [1, 2.5, null, true, "\u00e9"]}'
    expected = {"a": [1, 2.5, None, True, "\u00e9"]}
    assert expected == _wire.loads(text)
    assert expected == _wire.loads(text.encode())
    assert expected == _wire.loads(bytearray(text.encode()))


def test_dumps_writes_non_ascii_as_utf8(json_backend: str) -> None:
    """Non-ASCII text is written as UTF-8, not ``\\u`` escapes, on both paths."""
    event = TaskCompletionEvent(**valid_event_kwargs(model="modèle-🚀", language="日本語"))
    body = _wire.dumps(event)
    assert "modèle-🚀".encode() in body
    assert "日本語".encode() in body
    assert event == _wire.parse(body, TaskCompletionEvent)


def test_dumps_rejects_what_json_cannot_hold(json_backend: str) -> None:
    """An object JSON cannot represent raises ``TypeError`` (orjson's ``JSONEncodeError`` is one) on both paths."""
    with pytest.raises(TypeError):
        _wire.dumps({"x": object()})


def test_dumps_writes_lists_and_dicts_of_models(json_backend: str) -> None:
    """``dumps`` encodes containers of models, as the client's envelopes need."""
    assert [golden("event")] == json.loads(_wire.dumps([full_event()]))
    assert {"e": golden("event")} == json.loads(_wire.dumps({"e": full_event()}))
