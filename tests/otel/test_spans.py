"""GenAISpanProcessor on the OpenTelemetry SDK's own tracer, with spans built by hand as the GenAI conventions say
(``gen_ai.operation.name``, ``gen_ai.provider.name`` or the older ``gen_ai.system``, ``gen_ai.usage.*``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode, set_span_in_context

from mosaicstack_telemetry import TelemetryClient
from mosaicstack_telemetry.enums import Harness, Outcome, Provider
from mosaicstack_telemetry.llm import EMBEDDINGS_TASK_TYPE, Pricer
from mosaicstack_telemetry.llm.usage import Usage
from mosaicstack_telemetry.otel import GenAISpanProcessor

from .recorder import Recorder

MS = 1_000_000


@pytest.fixture
def traced() -> Iterator[tuple[Any, Recorder, GenAISpanProcessor]]:
    recorder = Recorder()
    processor = GenAISpanProcessor(cast(TelemetryClient, recorder))
    provider = TracerProvider()
    provider.add_span_processor(processor)  # type: ignore[arg-type,unused-ignore]  # duck-typed SpanProcessor
    yield provider.get_tracer("test"), recorder, processor
    provider.shutdown()


def chat(tracer: Any, model: str, *, start: int, end: int, usage: dict[str, int]) -> None:
    attributes: dict[str, str | int] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": model,
    }
    attributes.update(usage)
    span = tracer.start_span(f"chat {model}", attributes=attributes, start_time=start)
    span.end(end_time=end)


def test_a_chat_span_is_one_priced_event(traced: Any) -> None:
    tracer, recorder, _ = traced
    chat(
        tracer,
        "claude-sonnet-4-5",
        start=0,
        end=1500 * MS,
        usage={
            "gen_ai.usage.input_tokens": 10_000,
            "gen_ai.usage.output_tokens": 800,
            "gen_ai.usage.cache_read.input_tokens": 8_000,
        },
    )
    [event] = recorder.events
    expected = Pricer().price(
        "claude-sonnet-4-5",
        Usage(input_tokens=10_000, output_tokens=800, cache_read_tokens=8_000),
        provider="anthropic",
    )
    assert (10_000, 800, expected.micros) == (
        event.actual_input_tokens,
        event.actual_output_tokens,
        event.actual_cost_usd_micros,
    )
    assert 0 < expected.micros
    assert (Provider.ANTHROPIC, Harness.API_DIRECT, Outcome.SUCCESS, 1500) == (
        event.provider,
        event.harness,
        event.outcome,
        event.task_duration_ms,
    )


def test_old_gen_ai_system_and_response_model_and_errors(traced: Any) -> None:
    tracer, recorder, _ = traced
    span = tracer.start_span(
        "chat gpt-4o",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 5,
        },
    )
    span.set_status(Status(StatusCode.ERROR))
    span.end()
    [event] = recorder.events
    assert ("gpt-4o-2024-08-06", Provider.OPENAI, Outcome.FAILURE) == (event.model, event.provider, event.outcome)


def test_embeddings_span_has_zero_output_and_the_embeddings_task_type(traced: Any) -> None:
    tracer, recorder, _ = traced
    span = tracer.start_span(
        "embeddings text-embedding-3-small",
        attributes={
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 42,
        },
    )
    span.end()
    [event] = recorder.events
    assert (42, 0, EMBEDDINGS_TASK_TYPE) == (event.actual_input_tokens, event.actual_output_tokens, event.task_type)


def test_invoke_agent_aggregates_its_descendant_model_calls(traced: Any) -> None:
    tracer, recorder, processor = traced
    agent = tracer.start_span(
        "invoke_agent fixer",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "fixer"},
        start_time=0,
    )
    agent_context = set_span_in_context(agent)
    tool = tracer.start_span(
        "execute_tool pytest", context=agent_context, attributes={"gen_ai.operation.name": "execute_tool"}
    )
    tool_context = set_span_in_context(tool)
    for model, output, context in (
        ("claude-haiku-4-5", 100, agent_context),
        ("claude-sonnet-4-5", 900, tool_context),  # a grandchild counts too
        ("claude-haiku-4-5", 50, agent_context),
    ):
        span = tracer.start_span(
            f"chat {model}",
            context=context,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": output,
            },
        )
        span.end()
    tool.end()
    assert [] == recorder.events  # nothing until the agent ends
    agent.end(end_time=4000 * MS)
    [event] = recorder.events
    assert (3000, 1050, "claude-sonnet-4-5", 4000) == (
        event.actual_input_tokens,
        event.actual_output_tokens,
        event.model,
        event.task_duration_ms,
    )
    assert {"events": 1, "folded": 3} == dict(processor.counts)


def test_spans_without_usage_or_not_gen_ai_make_no_event(traced: Any) -> None:
    tracer, recorder, processor = traced
    tracer.start_span("GET /", attributes={"http.method": "GET"}).end()
    tracer.start_span("chat x", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "x"}).end()
    assert [] == recorder.events
    assert {"no_usage": 1} == dict(processor.counts)


def test_a_broken_span_never_raises_into_the_tracer() -> None:
    processor = GenAISpanProcessor(cast(TelemetryClient, Recorder()))
    processor.on_start(object())
    processor.on_end(object())
    assert {"errors": 2} == dict(processor.counts)
