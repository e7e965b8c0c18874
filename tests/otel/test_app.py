"""The bridge's ASGI app over httpx's ASGI transport: routes, encodings, replies, limits, auth, lifespan."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from mosaicstack_telemetry.otel import BridgeApp
from mosaicstack_telemetry.otel.decode import JSON, decode_logs

from .claude import api_request, encode, record, user_prompt
from .recorder import recorded_app


@pytest.fixture
async def http() -> AsyncIterator[tuple[httpx.AsyncClient, BridgeApp, Any]]:
    now = [0.0]
    app, recorder = recorded_app(idle_timeout=60, clock=lambda: now[0])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
        yield client, app, (recorder, now)


JSON_HEADERS = {"content-type": "application/json"}


async def test_logs_become_one_event_per_prompt_and_stats_count_them(http: Any) -> None:
    client, app, (recorder, _) = http
    first = await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]), headers=JSON_HEADERS)
    again = await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]), headers=JSON_HEADERS)
    assert (200, {}) == (first.status_code, first.json())
    assert (200, {}) == (again.status_code, again.json())
    assert [] == recorder.events
    assert 1 == app.close()
    assert [500] == [event.actual_output_tokens for event in recorder.events]
    stats = (await client.get("/stats")).json()
    assert {"logs": 2} == stats["requests"]
    assert (4, 2, 2, 1, 0) == (
        stats["records_received"],
        stats["records_mapped"],
        stats["duplicates"],
        stats["events_tracked"],
        stats["open_prompts"],
    )


async def test_partial_success_names_the_rejected_records(http: Any) -> None:
    client, _, _ = http
    bad = api_request(10, 2)
    bad["attributes"].append({"key": "cost_usd", "value": {"doubleValue": {}}})
    reply = await client.post(
        "/v1/logs", content=encode([user_prompt(0, 1), bad, record("x", 1, 3)]), headers=JSON_HEADERS
    )
    assert 200 == reply.status_code
    partial = reply.json()["partialSuccess"]
    assert "1" == partial["rejectedLogRecords"]
    assert "cost_usd" in partial["errorMessage"]


async def test_gzip_bodies_and_metrics_traces_are_accepted(http: Any) -> None:
    client, app, (recorder, _) = http
    body = gzip.compress(encode([user_prompt(0, 1), api_request(10, 2)]))
    reply = await client.post("/v1/logs", content=body, headers={**JSON_HEADERS, "content-encoding": "gzip"})
    assert 200 == reply.status_code
    for path in ("/v1/metrics", "/v1/traces"):
        answered = await client.post(path, content=b"{}", headers=JSON_HEADERS)
        assert (200, {}) == (answered.status_code, answered.json())
    app.close()
    assert 1 == len(recorder.events)
    assert {"logs": 1, "metrics": 1, "traces": 1} == dict(app.stats.requests)


@pytest.mark.parametrize(
    ("method", "path", "headers", "content", "status"),
    [
        ("POST", "/v1/logs", {"content-type": "text/plain"}, b"{}", 415),
        ("POST", "/v1/logs", JSON_HEADERS, b"nope", 400),
        ("POST", "/v1/logs", {**JSON_HEADERS, "content-encoding": "zstd"}, b"{}", 415),
        ("GET", "/v1/logs", {}, b"", 405),
        ("POST", "/stats", JSON_HEADERS, b"{}", 405),
        ("POST", "/v1/nothing", JSON_HEADERS, b"{}", 404),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(  # noqa: PLR0917
    http: Any, method: str, path: str, headers: dict[str, str], content: bytes, status: int
) -> None:
    client, app, _ = http
    reply = await client.request(method, path, content=content, headers=headers)
    assert status == reply.status_code
    assert reply.json()["message"]
    assert {status: 1} == dict(app.stats.refused)


async def test_protobuf_without_opentelemetry_proto_is_415_naming_the_extra(
    http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app, _ = http
    monkeypatch.setitem(sys.modules, "opentelemetry.proto.collector.logs.v1.logs_service_pb2", None)
    reply = await client.post("/v1/logs", content=b"\x0a\x00", headers={"content-type": "application/x-protobuf"})
    assert 415 == reply.status_code
    assert "mosaicstack-telemetry[otel]" in reply.json()["message"]
    assert {415: 1} == dict(app.stats.refused)


async def test_body_size_limit() -> None:
    app, _ = recorded_app(max_body_bytes=100, max_decompressed_bytes=200)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
        big = await client.post("/v1/logs", content=encode([user_prompt(0, 1)]), headers=JSON_HEADERS)
        assert 413 == big.status_code
        bomb = gzip.compress(json.dumps({"resourceLogs": [], "pad": " " * 1000}).encode())
        assert len(bomb) <= 100
        inflated = await client.post("/v1/logs", content=bomb, headers={**JSON_HEADERS, "content-encoding": "gzip"})
        assert 413 == inflated.status_code


async def test_token_is_required_when_set() -> None:
    app, _ = recorded_app(token="s3cret-token")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
        missing = await client.post("/v1/logs", content=b"{}", headers=JSON_HEADERS)
        wrong = await client.post("/v1/logs", content=b"{}", headers={**JSON_HEADERS, "authorization": "Bearer no"})
        right = await client.post(
            "/v1/logs", content=b"{}", headers={**JSON_HEADERS, "authorization": "Bearer s3cret-token"}
        )
        assert (401, 401, 200) == (missing.status_code, wrong.status_code, right.status_code)
        assert "s3cret" not in missing.text


async def test_mounted_under_a_prefix_uses_the_path_below_it() -> None:
    app, recorder = recorded_app()

    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "root_path": "/otlp"}, receive, send)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mounted), base_url="http://bridge") as client:
        reply = await client.post(
            "/otlp/v1/logs", content=encode([user_prompt(0, 1), api_request(1, 2)]), headers=JSON_HEADERS
        )
    assert 200 == reply.status_code
    app.close()
    assert 1 == len(recorder.events)


async def test_idle_prompts_complete_on_sweep_and_on_the_next_request(http: Any) -> None:
    client, app, (recorder, now) = http
    await client.post("/v1/logs", content=encode([user_prompt(0, 1), api_request(10, 2)]), headers=JSON_HEADERS)
    now[0] = 59.0
    assert 0 == app.sweep()
    now[0] = 60.0
    assert 1 == app.sweep()
    assert 1 == len(recorder.events)
    await client.post(
        "/v1/logs",
        content=encode([user_prompt(0, 1, session="s2"), api_request(10, 2, session="s2")]),
        headers=JSON_HEADERS,
    )
    now[0] = 200.0
    await client.post("/v1/metrics", content=b"{}", headers=JSON_HEADERS)  # any request sweeps first
    assert 2 == len(recorder.events)
    assert {"idle": 2} == dict(app.stats.prompts_completed)


async def test_lifespan_shutdown_completes_every_open_prompt() -> None:
    app, recorder = recorded_app()
    to_app, app_inbox = anyio.create_memory_object_stream[dict[str, Any]](4)
    app_outbox, from_app = anyio.create_memory_object_stream[dict[str, Any]](4)

    async def receive() -> dict[str, Any]:
        return await app_inbox.receive()

    async def send(message: Any) -> None:
        await app_outbox.send(message)

    async with anyio.create_task_group() as group, to_app, from_app, app_inbox, app_outbox:
        group.start_soon(app, {"type": "lifespan"}, receive, send)
        await to_app.send({"type": "lifespan.startup"})
        assert {"type": "lifespan.startup.complete"} == await from_app.receive()
        app.assembler.add(decode_logs(encode([user_prompt(0, 1), api_request(10, 2)]), JSON).records, 0.0)
        await to_app.send({"type": "lifespan.shutdown"})
        assert {"type": "lifespan.shutdown.complete"} == await from_app.receive()
    assert 1 == len(recorder.events)
    assert {"shutdown": 1} == dict(app.stats.prompts_completed)
