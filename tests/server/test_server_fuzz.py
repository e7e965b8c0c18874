"""Bad bodies never make a 500: Hypothesis-generated JSON, bytes and headers against the app, in-process.

The app runs through ``httpx.ASGITransport`` (no socket, so each example costs little), under asyncio and trio. An
exception escaping the app would be re-raised here by the transport, so "no exception and a 4xx/2xx status" is the
whole property.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry._protocol import EVENTS_PATH, PREDICTIONS_PATH
from mosaicstack_telemetry.server import SQLiteStorage, create_app, create_key

from ._server_support import InProcess, query, wire_event

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

EVENT_FIELDS = sorted(wire_event("00000000-0000-0000-0000-000000000000"))
JSON_HEADERS = {"Content-Type": "application/json"}


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity included: not JSON, the server must say 400


@FUZZ
@given(body=json_values)
async def test_any_json_body(in_process: InProcess, body: Any) -> None:
    for path in (EVENTS_PATH, PREDICTIONS_PATH):
        response = await in_process.http.post(path, content=json_bytes(body), headers=JSON_HEADERS)
        assert response.status_code in (400, 422)
        assert isinstance(response.json()["detail"], str)


@FUZZ
@given(body=st.binary(max_size=300))
async def test_any_bytes(in_process: InProcess, body: bytes) -> None:
    for path in (EVENTS_PATH, PREDICTIONS_PATH):
        response = await in_process.http.post(path, content=body, headers=JSON_HEADERS)
        assert response.status_code in (400, 422)


@FUZZ
@given(
    items=st.lists(
        st.dictionaries(st.sampled_from(EVENT_FIELDS), json_values, max_size=4) | json_values,
        min_size=1,
        max_size=6,
    )
)
async def test_events_with_arbitrary_fields(in_process: InProcess, items: list[Any]) -> None:
    """Valid events with some fields replaced by arbitrary JSON (or replaced outright): one result each."""
    events = [{**wire_event(in_process.key.instance_id), **item} if isinstance(item, dict) else item for item in items]
    response = await in_process.http.post(EVENTS_PATH, content=json_bytes({"events": events}), headers=JSON_HEADERS)
    if response.status_code == 400:  # a NaN or an infinity somewhere: not JSON
        return
    assert 200 == response.status_code
    reply = response.json()
    assert len(events) == len(reply["results"])
    assert len(events) == reply["accepted"] + reply["rejected"]
    for result in reply["results"]:
        assert result["status"] in ("accepted", "rejected")
        assert (result["status"] == "rejected") == (result["error"] is not None)


@FUZZ
@given(
    queries=st.lists(
        st.dictionaries(st.sampled_from(sorted(query())), json_values, max_size=3) | json_values,
        min_size=1,
        max_size=5,
    )
)
async def test_queries_with_arbitrary_fields(in_process: InProcess, queries: list[Any]) -> None:
    body = [{**query(), **q} if isinstance(q, dict) else q for q in queries]
    response = await in_process.http.post(PREDICTIONS_PATH, content=json_bytes({"queries": body}), headers=JSON_HEADERS)
    assert response.status_code in (200, 400, 422)
    if response.status_code == 200:
        assert len(body) == len(response.json()["results"])


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


@FUZZ
@given(authorization=header_text, content_type=header_text)
async def test_arbitrary_headers(in_process: InProcess, authorization: str, content_type: str) -> None:
    body = json_bytes({"events": [wire_event(in_process.key.instance_id)]})
    response = await in_process.http.post(
        EVENTS_PATH,
        content=body,
        headers={"Authorization": authorization, "Content-Type": content_type},
    )
    assert response.status_code in (401, 403, 415)


async def test_lone_surrogates_are_400(in_process: InProcess, json_parser: str) -> None:
    """JSON may escape a lone surrogate, which UTF-8 cannot carry: the body is refused (400) with either parser."""
    instance = in_process.key.instance_id
    for events in ([wire_event(instance, model="bad\ud800model")], [wire_event(instance, language="\udfff")]):
        body = json.dumps({"events": events}).encode()  # ensure_ascii: the surrogates travel as \ud800 escapes
        response = await in_process.http.post(EVENTS_PATH, content=body, headers=JSON_HEADERS)
        assert 400 == response.status_code
    pair = json.dumps({"events": [wire_event(instance, model="emoji \U0001f600")]}).encode()  # a valid pair
    assert 1 == (await in_process.http.post(EVENTS_PATH, content=pair, headers=JSON_HEADERS)).json()["accepted"]


async def test_deep_nesting_is_400(in_process: InProcess, json_parser: str) -> None:
    """Nesting deeper than the parser's recursion limit is invalid JSON, not a crash."""
    body = b"[" * 100_000 + b"]" * 100_000
    response = await in_process.http.post(EVENTS_PATH, content=body, headers=JSON_HEADERS)
    assert 400 == response.status_code


async def test_out_of_range_timestamps_are_rejected_not_500(in_process: InProcess) -> None:
    """Converting 0001-01-01T00:00:00+01:00 to UTC overflows: the event is rejected, the request survives."""
    instance = in_process.key.instance_id
    events = [
        wire_event(instance, timestamp="0001-01-01T00:00:00+01:00"),
        wire_event(instance, timestamp="9999-12-31T23:59:59-01:00"),
        wire_event(instance),
    ]
    response = await in_process.http.post(EVENTS_PATH, content=json_bytes({"events": events}), headers=JSON_HEADERS)
    assert 200 == response.status_code
    results = response.json()["results"]
    assert ["rejected", "rejected", "accepted"] == [r["status"] for r in results]
    assert results[0]["error"].startswith("timestamp='0001-01-01T00:00:00+01:00'")


class BrokenStorage(SQLiteStorage):
    """Storage whose writes fail: the kind of error no client can cause."""

    def insert_events(self, events: Sequence[TaskCompletionEvent], received_at: datetime) -> list[bool]:
        raise sqlite3.OperationalError("disk I/O error")


async def test_a_server_fault_is_a_json_500_without_traceback() -> None:
    storage = BrokenStorage()
    key = create_key(storage)
    transport = httpx.ASGITransport(app=create_app(storage), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            response = await http.post(
                EVENTS_PATH,
                json={"events": [wire_event(key.instance_id)]},
                headers={"Authorization": f"Bearer {key.key}"},
            )
    finally:
        storage.close()
    assert (500, {"detail": "internal server error"}) == (response.status_code, response.json())
    assert "disk I/O" not in response.text
