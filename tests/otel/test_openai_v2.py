"""GenAISpanProcessor with the spans OpenTelemetry's own ``opentelemetry-instrumentation-openai-v2`` emits around a
genuine ``openai`` client (on a mock transport: nothing leaves the process). Skipped where those are not installed
(the ``otel`` dependency group has them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.instrumentation.openai_v2")
pytest.importorskip("openai")
pytest.importorskip("httpx2")

import httpx2
import openai
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from mosaicstack_telemetry import TelemetryClient
from mosaicstack_telemetry.enums import Outcome, Provider
from mosaicstack_telemetry.llm import Pricer
from mosaicstack_telemetry.llm.usage import Usage
from mosaicstack_telemetry.otel import GenAISpanProcessor

from .recorder import Recorder

MODEL = "gpt-4o-mini-2024-07-18"


def completion(prompt_tokens: int, completion_tokens: int, cached: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_763_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


@pytest.fixture
def instrumented() -> Iterator[tuple[Recorder, GenAISpanProcessor, TracerProvider]]:
    recorder = Recorder()
    processor = GenAISpanProcessor(cast(TelemetryClient, recorder))
    provider = TracerProvider()
    provider.add_span_processor(processor)  # type: ignore[arg-type,unused-ignore]  # duck-typed SpanProcessor
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call,unused-ignore]
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield recorder, processor, provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def client(status: int, body: dict[str, Any]) -> Any:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(status, json=body))
    return openai.OpenAI(api_key="test-key", max_retries=0, http_client=httpx2.Client(transport=transport))


def test_instrumented_chat_call_becomes_one_event(instrumented: Any) -> None:
    recorder, processor, _ = instrumented
    client(200, completion(2000, 300, 0)).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    [event] = recorder.events
    expected = Pricer().price(MODEL, Usage(input_tokens=2000, output_tokens=300), provider="openai")
    assert (MODEL, Provider.OPENAI, 2000, 300, expected.micros, Outcome.SUCCESS) == (
        event.model,
        event.provider,
        event.actual_input_tokens,
        event.actual_output_tokens,
        event.actual_cost_usd_micros,
        event.outcome,
    )
    assert 0 < expected.micros
    assert {"events": 1} == dict(processor.counts)


def test_failed_call_without_usage_makes_no_event(instrumented: Any) -> None:
    recorder, processor, _ = instrumented
    failing = client(500, {"error": {"message": "boom", "type": "server_error"}})
    with pytest.raises(openai.InternalServerError):
        failing.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert [] == recorder.events
    assert {"no_usage": 1} == dict(processor.counts)
