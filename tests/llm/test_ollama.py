"""Ollama through ``instrument()``: chat, generate, embed, NDJSON streams; local models cost 0, marked local."""

from __future__ import annotations

import json
from typing import Any

import httpx
import ollama
import pytest

from mosaicstack_telemetry.llm import CostStatus, SkipReason, instrument, result_of, stats

from . import payloads
from .conftest import FakeTelemetry, expected, fields

LOCAL = expected(
    model=payloads.OLLAMA_MODEL,
    provider="ollama",
    actual_input_tokens=26,
    actual_output_tokens=12,
    actual_cost_usd_micros=0,
)
MESSAGES: Any = [{"role": "system", "content": "Debug the failing build."}, {"role": "user", "content": "log"}]


class Server:
    def __init__(self, *, final: dict[str, Any] | None = None, fail: bool = False, error_mid_stream: bool = False):
        self.final = final
        self.fail = fail
        self.error_mid_stream = error_mid_stream
        self.results: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail:
            return httpx.Response(500, json={"error": "model 'llama3.2' not found"})
        body = json.loads(request.content)
        if request.url.path == "/api/embed":
            return httpx.Response(
                200,
                json={
                    "model": "nomic-embed-text",
                    "embeddings": [[0.1, 0.2]],
                    "total_duration": 1_000,
                    "load_duration": 10,
                    "prompt_eval_count": 9,
                },
            )
        if body.get("stream", True):
            stream = payloads.ollama_stream(final=self.final, error=self.error_mid_stream)
            return httpx.Response(200, content=stream, headers={"content-type": "application/x-ndjson"})
        final = self.final if self.final is not None else payloads.ollama_chat()
        if request.url.path == "/api/generate":
            final = {key: value for key, value in final.items() if key != "message"} | {"response": "ok"}
        return httpx.Response(200, json=final)


def test_chat_generate_embed(telemetry: FakeTelemetry) -> None:
    results: list[Any] = []
    client = instrument(payloads.ollama_client(Server()), telemetry, on_result=results.append)

    client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES)
    client.generate(model=payloads.OLLAMA_MODEL, prompt="x", system="Write the README section.")
    client.embed(model="nomic-embed-text", input="x")

    assert [
        expected(**{**LOCAL, "task_type": "debugging"}),
        expected(**{**LOCAL, "task_type": "documentation"}),
        expected(
            model="nomic-embed-text",
            provider="ollama",
            actual_input_tokens=9,
            actual_output_tokens=0,
            actual_cost_usd_micros=0,
            task_type="planning",
        ),
    ] == [fields(event) for event in telemetry.events]
    assert {CostStatus.LOCAL} == {result.cost.status for result in results}


def test_stream(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.ollama_client(Server()), telemetry)

    parts = list(client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES, stream=True))

    assert 13 == len(parts)
    assert expected(**{**LOCAL, "task_type": "debugging"}) == fields(telemetry.event)


def test_missing_prompt_count_sends_no_event(telemetry: FakeTelemetry) -> None:
    """Ollama left out prompt_eval_count (a cached prompt): the input is unknown, so no event is sent — a zero
    would drag the predictions down — and the call is counted usage_unknown."""
    client = instrument(payloads.ollama_client(Server(final=payloads.ollama_chat(prompt_eval_count=None))), telemetry)

    client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES)
    list(client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES, stream=True))

    assert [] == telemetry.events
    assert {SkipReason.USAGE_UNKNOWN: 2} == dict(stats().skipped)


def test_early_break_before_done(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.ollama_client(Server()), telemetry)

    stream = client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES, stream=True)
    for _ in stream:
        break
    stream.close()  # type: ignore[attr-defined]  # the wrapper (and ollama's generator) has close()

    assert [] == telemetry.events
    result = result_of(stream)
    assert result is not None
    assert result.incomplete


def test_error_and_error_mid_stream(telemetry: FakeTelemetry) -> None:
    with pytest.raises(ollama.ResponseError):
        instrument(payloads.ollama_client(Server(fail=True)), telemetry).chat(model="llama3.2", messages=MESSAGES)
    client = instrument(payloads.ollama_client(Server(error_mid_stream=True)), telemetry)
    stream = client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(ollama.ResponseError):
        list(stream)

    assert [("failure", "llama3.2"), ("failure", "llama3.2")] == [
        (event.outcome.value, event.model) for event in telemetry.events
    ]


async def test_async_chat_stream_and_error(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_ollama_client(Server()), telemetry)

    await client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES)
    stream = await client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES, stream=True)
    parts = [part async for part in stream]
    await client.embed(model="nomic-embed-text", input="x")
    failing = instrument(payloads.async_ollama_client(Server(fail=True)), telemetry)
    with pytest.raises(ollama.ResponseError):
        await failing.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES)

    assert 13 == len(parts)
    assert [("success", 26), ("success", 26), ("success", 9), ("failure", 0)] == [
        (event.outcome.value, event.actual_input_tokens) for event in telemetry.events
    ]


#: ollama's async stream generator iterates httpx's ``aiter_lines()`` without closing it: closed early, trio warns
#: when that inner generator is collected (the bare SDK does the same), asyncio finalizes it quietly.
@pytest.mark.parametrize("anyio_backend", [("asyncio", {"debug": True})], ids=["asyncio"])
async def test_async_early_break(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_ollama_client(Server()), telemetry)

    stream = await client.chat(model=payloads.OLLAMA_MODEL, messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]  # the wrapper (and ollama's generator) has aclose()

    assert [] == telemetry.events
    assert 1 == stats().skipped[SkipReason.USAGE_UNKNOWN]
