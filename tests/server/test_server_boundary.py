"""One strict behaviour at the JSON boundary, with orjson and with the stdlib parser: encodings, numbers, wire types.

Each test runs with both parsers (the ``json_parser`` fixture) through the app in-process; the Hypothesis test posts
the same bodies to two servers, one per parser, and requires the same answers.
"""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaicstack_telemetry import TaskCompletionEvent, _wire
from mosaicstack_telemetry._protocol import EVENTS_PATH, PREDICTIONS_PATH
from mosaicstack_telemetry.server import SQLiteStorage, create_app, create_key
from mosaicstack_telemetry.server.boundary import BodyError, decode_content, loads

from ._server_support import InProcess, query, wire_event

JSON_HEADERS = {"Content-Type": "application/json"}


async def post_events(in_process: InProcess, body: bytes, **headers: str) -> httpx.Response:
    return await in_process.http.post(EVENTS_PATH, content=body, headers={**JSON_HEADERS, **headers})


def events_body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def event_text(instance: Any, field: str, raw: str) -> bytes:
    """An events body whose ``field`` is the raw JSON text ``raw`` (numbers json.dumps would not write)."""
    marker = "__RAW__"
    return events_body(wire_event(instance, **{field: marker})).replace(f'"{marker}"'.encode(), raw.encode())


# -- bytes ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encode", "reason"),
    [
        (lambda text: b"\xef\xbb\xbf" + text.encode(), "byte order mark"),
        (lambda text: text.encode("utf-16"), "not UTF-8"),  # with its BOM
        (lambda text: text.encode("utf-32"), "not UTF-8"),
        (lambda text: text.encode("utf-16-le"), "invalid JSON"),  # ASCII as UTF-16: valid UTF-8, NULs between
    ],
)
async def test_only_utf8_without_bom(in_process: InProcess, json_parser: str, encode: Any, reason: str) -> None:
    body = encode(events_body(wire_event(in_process.key.instance_id)).decode())
    response = await post_events(in_process, body)
    assert 400 == response.status_code
    assert reason in response.json()["detail"]
    assert 0 == in_process.storage.count_events()


async def test_gzip_bodies_are_inflated(in_process: InProcess, json_parser: str) -> None:
    body = events_body(*(wire_event(in_process.key.instance_id) for _ in range(3)))
    response = await post_events(in_process, gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert (200, 3) == (response.status_code, response.json()["accepted"])
    plain = events_body(wire_event(in_process.key.instance_id))
    identity = await post_events(in_process, plain, **{"Content-Encoding": "identity"})
    assert 1 == identity.json()["accepted"]


@pytest.mark.parametrize(
    ("encoding", "body", "status", "detail"),
    [
        ("br", b'{"events": []}', 415, "Content-Encoding 'br' is not supported"),
        ("deflate", zlib.compress(b'{"events": []}'), 415, "Content-Encoding 'deflate' is not supported"),
        ("gzip, gzip", b'{"events": []}', 415, "is not supported"),
        ("gzip", b'{"events": []}', 400, "invalid gzip body"),
        ("gzip", gzip.compress(b'{"events": []}')[:-6], 400, "invalid gzip body: truncated"),
        ("gzip", gzip.compress(b" " * 2_000_000), 413, "inflated request body exceeds 1048576 bytes"),
    ],
)
async def test_encodings_it_does_not_decode_are_refused(
    in_process: InProcess, encoding: str, body: bytes, status: int, detail: str
) -> None:
    """A plain body labelled br is not read as JSON; a gzip bomb stops at the body limit."""
    response = await post_events(in_process, body, **{"Content-Encoding": encoding})
    assert status == response.status_code
    assert detail in response.json()["detail"]


def test_inflating_stops_at_the_limit() -> None:
    """A 100 MB bomb is never inflated beyond limit + 1 bytes (bounded memory), and several members are read."""
    bomb = gzip.compress(b"\0" * 100_000_000)
    with pytest.raises(BodyError) as raised:
        decode_content(bomb, "gzip", 1_000)
    assert 413 == raised.value.status
    assert b"ab" == decode_content(gzip.compress(b"a") + gzip.compress(b"b"), "GZIP", 10)


# -- numbers and text -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1" + "0" * 400, "1e400", "-1e309", "NaN", "Infinity", "-Infinity", "1" + "0" * 5000])
async def test_numbers_beyond_a_double_are_400_without_a_traceback(
    in_process: InProcess, json_parser: str, raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = await post_events(
            in_process, event_text(in_process.key.instance_id, "context_utilization_final", raw)
        )
    assert 400 == response.status_code
    assert response.json()["detail"].startswith("invalid JSON: ")
    assert [] == caplog.records


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18446744073709551615", 18446744073709551615),
        ("-9223372036854775808", -9223372036854775808),
        ("18446744073709551616", 1.8446744073709552e19),
        ("1e-400", 0.0),
        ("-0", 0),
    ],
)
def test_integers_follow_one_rule(json_parser: str, text: str, expected: float) -> None:
    """64-bit integers stay integers, larger ones are doubles, whichever parser reads them."""
    value = loads(text.encode())
    assert (expected, type(expected)) == (value, type(value))


# -- wire types -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "error"),
    [
        ("task_duration_ms", "1e-400", "task_duration_ms=0.0 is not an integer"),
        ("task_duration_ms", "45000.0", "task_duration_ms=45000.0 is not an integer"),
        ("retry_count", "true", "retry_count=True is not an integer"),
        ("actual_input_tokens", "18446744073709551616", "actual_input_tokens=1.8446744073709552e+19 is not an integer"),
        ("quality_gates_run", '{"lint": 1, "test": 2}', "quality_gates_run={'lint': 1, 'test': 2} is not a list"),
        ("quality_gates_failed", '"lint"', "quality_gates_failed='lint' is not a list"),
        ("timestamp", '"2026-W03-4T12:00:00+00:00"', "timestamp='2026-W03-4T12:00:00+00:00' is not an RFC 3339"),
        ("timestamp", '"2026-015T12:00:00+00:00"', "timestamp='2026-015T12:00:00+00:00' is not an RFC 3339"),
        ("timestamp", '"20260115T120000Z"', "timestamp='20260115T120000Z' is not an RFC 3339"),
        ("timestamp", '"2026-01-15"', "timestamp='2026-01-15' is not an RFC 3339"),
        ("timestamp", '"\\u0662026-01-15T12:00:00Z"', "timestamp='٢026-01-15T12:00:00Z' is not an RFC 3339"),
        ("timestamp", "1768478400", "timestamp=1768478400 is not an RFC 3339"),
        ("schema_version", '"1.\\u0663"', "schema_version='1.٣' is not supported (this server reads 1.x)"),
        ("context_utilization_final", '"0.5"', "context_utilization_final='0.5' is not a number"),
    ],
)
async def test_wire_types_are_strict(in_process: InProcess, json_parser: str, field: str, raw: str, error: str) -> None:
    """What the lax Python models would convert is refused on the wire, naming the field and value."""
    response = await post_events(in_process, event_text(in_process.key.instance_id, field, raw))
    (result,) = response.json()["results"]
    assert ("rejected", True) == (result["status"], result["error"].startswith(error)), result["error"]
    assert 0 == in_process.storage.count_events()


@pytest.mark.parametrize(
    "timestamp",
    ["2026-01-15T12:00:00Z", "2026-01-15t12:00:00z", "2026-01-15 12:00:00+02:00", "2026-01-15T12:00:00.123456789-05:30",
     "2026-01-15T12:00:00"],
)  # fmt: skip
async def test_rfc3339_timestamps_are_accepted(in_process: InProcess, json_parser: str, timestamp: str) -> None:
    response = await post_events(in_process, events_body(wire_event(in_process.key.instance_id, timestamp=timestamp)))
    assert 1 == response.json()["accepted"], response.json()


def test_the_python_models_stay_lax() -> None:
    """Drop-in code keeps working: the models still convert what the wire refuses."""
    event = TaskCompletionEvent.model_validate(
        wire_event(
            "12345678-1234-4234-8234-123456789abc",
            task_duration_ms=45_000.0,
            quality_gates_run=("lint", "test"),
            timestamp="2026-01-15T12:00:00",
        )
    )
    assert (45_000, int) == (event.task_duration_ms, type(event.task_duration_ms))
    assert ["lint", "test"] == [gate.value for gate in event.quality_gates_run]


# -- both parsers agree -----------------------------------------------------------------------------------------------

numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
raw_numbers = st.sampled_from(["1e-400", "1e400", "1" + "0" * 30, "18446744073709551616", "-0", "0.0", "1E2", "NaN"])
leaf = st.none() | st.booleans() | numbers | st.text(max_size=12) | st.sampled_from(["2026-W03-4", "1.٣", "\ud800"])
json_like = st.recursive(
    leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
EVENT_FIELDS = sorted(wire_event("00000000-0000-0000-0000-000000000000"))


@pytest.fixture
async def two_servers() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, str]]:
    """Two apps over two storages sharing one key and instance: the same body can be accepted by each."""
    stores = SQLiteStorage(), SQLiteStorage()
    key = create_key(stores[0])
    create_key(stores[1], key.instance_id, key=key.key)
    headers = {"Authorization": f"Bearer {key.key}", **JSON_HEADERS}
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(store)), base_url="http://t", headers=headers)
        for store in stores
    ]
    try:
        yield clients[0], clients[1], str(key.instance_id)
    finally:
        for client in clients:
            await client.aclose()
        for store in stores:
            store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    overrides=st.lists(st.dictionaries(st.sampled_from(EVENT_FIELDS), json_like, max_size=3), min_size=1, max_size=4),
    raw=st.none() | st.tuples(st.sampled_from(EVENT_FIELDS), raw_numbers),
    path=st.sampled_from([EVENTS_PATH, PREDICTIONS_PATH]),
)
async def test_orjson_and_stdlib_answer_alike(
    two_servers: tuple[httpx.AsyncClient, httpx.AsyncClient, str],
    monkeypatch: pytest.MonkeyPatch,
    overrides: list[dict[str, Any]],
    raw: tuple[str, str] | None,
    path: str,
) -> None:
    if _wire.orjson is None:  # pragma: no cover - the test sessions install the extra
        pytest.skip("orjson is not installed")
    fast, slow, instance = two_servers
    marker = "__RAW_NUMBER__"
    if raw is not None:  # one field of the first item is a number as raw text (json.dumps cannot write it)
        overrides = [{**overrides[0], raw[0]: marker}, *overrides[1:]]
    if path == EVENTS_PATH:
        items = [{**wire_event(instance), **override} for override in overrides]
        envelope: dict[str, Any] = {"events": items}
    else:
        envelope = {"queries": [{**query(), **override} for override in overrides]}
    body = json.dumps(envelope).encode()
    if raw is not None:
        body = body.replace(f'"{marker}"'.encode(), raw[1].encode())
    answers = []
    for client, parser in ((fast, _wire.orjson), (slow, None)):
        with monkeypatch.context() as patch:
            patch.setattr(_wire, "orjson", parser)
            response = await client.post(path, content=body)
        assert response.status_code < 500
        answers.append((response.status_code, _comparable(response)))
    assert answers[0] == answers[1]


def _comparable(response: httpx.Response) -> Any:
    """The reply without what may differ between two servers: 400 details (each parser words its own error) and
    the time a prediction's summary was computed."""
    if response.status_code == 400:
        return None
    reply = response.json()
    for result in reply.get("results", []):
        if isinstance(result.get("metadata"), dict):
            result["metadata"].pop("last_updated", None)
    return reply
