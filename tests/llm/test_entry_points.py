"""The context manager, the decorator, stream wrappers, hints, clamping, and the never-raise rule."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx
import pytest

from mosaicstack_telemetry import Outcome, TaskType, TelemetryClient, TelemetryConfig
from mosaicstack_telemetry.llm import (
    CostStatus,
    LlmCall,
    SkipReason,
    Usage,
    infer_task_type,
    instrument,
    llm_call,
    stats,
    task_hint,
    track_llm,
    wrap_async_stream,
    wrap_stream,
)

from . import payloads
from .conftest import FakeTelemetry


def test_llm_call_records_a_response(telemetry: FakeTelemetry) -> None:
    with llm_call(
        telemetry, task_type="implementation", estimated_input_tokens=30_000, estimated_output_tokens=500
    ) as call:
        call.record(payloads.anthropic_message())

    event = telemetry.event
    assert (TaskType.IMPLEMENTATION, 30_000, 500) == (
        event.task_type,
        event.estimated_input_tokens,
        event.estimated_output_tokens,
    )
    assert 30_000 * 2 + 500 * 10 == event.estimated_cost_usd_micros  # the estimate priced by the same table
    assert call.result is not None
    assert call.result.event is event


def test_llm_call_failure_is_recorded_and_reraised(telemetry: FakeTelemetry) -> None:
    error = ValueError("provider said no")
    with pytest.raises(ValueError, match="said no") as caught, llm_call(telemetry, model="gpt-4o", provider="openai"):
        raise error

    assert caught.value is error
    assert (Outcome.FAILURE, "gpt-4o", 0) == (
        telemetry.event.outcome,
        telemetry.event.model,
        telemetry.event.actual_input_tokens,
    )


def test_llm_call_timeout_and_usage(telemetry: FakeTelemetry) -> None:
    def timing_out(call: LlmCall) -> None:
        call.record_usage(Usage(input_tokens=10, output_tokens=0))
        raise TimeoutError

    with pytest.raises(TimeoutError), llm_call(telemetry, model="gpt-4o", provider="openai") as call:
        timing_out(call)
    with llm_call(telemetry, provider="openai") as call:
        call.record_usage(Usage(input_tokens=1_000_000, output_tokens=0), model="gpt-4o")

    assert [(Outcome.TIMEOUT, 10), (Outcome.SUCCESS, 1_000_000)] == [
        (event.outcome, event.actual_input_tokens) for event in telemetry.events
    ]
    assert 2_500_000 == telemetry.events[1].actual_cost_usd_micros


def test_llm_call_with_nothing_recorded_sends_nothing(telemetry: FakeTelemetry) -> None:
    with llm_call(telemetry, model="gpt-4o") as call:
        pass

    assert [] == telemetry.events
    assert call.result is not None
    assert SkipReason.USAGE_UNKNOWN == call.result.skipped


def test_llm_call_cancelled(telemetry: FakeTelemetry) -> None:
    with pytest.raises(KeyboardInterrupt), llm_call(telemetry, model="gpt-4o"):
        raise KeyboardInterrupt

    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


async def test_llm_call_async_with_and_stream(telemetry: FakeTelemetry) -> None:
    async def chunks() -> AsyncIterator[dict[str, Any]]:
        for _, event in payloads.anthropic_events(deltas=2):
            yield event

    async with llm_call(telemetry, provider="anthropic") as call:
        stream = call.wrap_async_stream(chunks())
        received = [chunk async for chunk in stream]

    assert 9 == len(received)
    assert (250, 39_019) == (telemetry.event.actual_output_tokens, telemetry.event.actual_input_tokens)


def test_llm_call_sync_stream_of_dicts(telemetry: FakeTelemetry) -> None:
    with llm_call(telemetry, provider="ollama") as call:
        for _ in call.wrap_stream(iter([payloads.ollama_chat(done=False), payloads.ollama_chat()])):
            pass

    assert (26, 12) == (telemetry.event.actual_input_tokens, telemetry.event.actual_output_tokens)


def test_track_llm_sync(telemetry: FakeTelemetry) -> None:
    @track_llm(telemetry)
    def review(diff: str, *, system: str) -> dict[str, Any]:
        return payloads.chat_completion()

    @track_llm(telemetry, model="gpt-4o-mini")
    def broken() -> None:
        raise RuntimeError("boom")

    review("diff", system="Review this pull request.")
    with pytest.raises(RuntimeError):
        broken()

    assert [(TaskType.CODE_REVIEW, Outcome.SUCCESS), (TaskType.UNKNOWN, Outcome.FAILURE)] == [
        (event.task_type, event.outcome) for event in telemetry.events
    ]


async def test_track_llm_async_and_streams(telemetry: FakeTelemetry) -> None:
    @track_llm(telemetry, embeddings=True)
    async def embed() -> dict[str, Any]:
        return payloads.EMBEDDING_RESPONSE

    @track_llm(telemetry)
    async def chat_stream() -> AsyncIterator[dict[str, Any]]:
        async def chunks() -> AsyncIterator[dict[str, Any]]:
            for _, chunk in payloads.chat_chunks(include_usage=True)[:-1]:
                yield chunk

        return chunks()

    @track_llm(telemetry)
    async def failing() -> None:
        raise ConnectionError

    await embed()
    stream = await chat_stream()
    async for _ in stream:
        pass
    with pytest.raises(ConnectionError):
        await failing()

    assert [(TaskType.PLANNING, 8), (TaskType.UNKNOWN, 2_000), (TaskType.UNKNOWN, 0)] == [
        (event.task_type, event.actual_input_tokens) for event in telemetry.events
    ]


def test_track_llm_sync_stream_and_anthropic_helper(telemetry: FakeTelemetry) -> None:
    client = payloads.anthropic_client(
        lambda request: payloads.sse_response(payloads.sse(payloads.anthropic_events(deltas=1)))
    )

    @track_llm(telemetry)
    def helper() -> Any:
        return client.messages.stream(model=payloads.ANTHROPIC_MODEL, max_tokens=10, messages=[])

    @track_llm(telemetry)
    def raw() -> Any:
        return iter([payloads.ollama_chat()])

    with helper() as stream:
        stream.get_final_message()
    list(raw())

    assert [250, 12] == [event.actual_output_tokens for event in telemetry.events]


def test_wrap_stream_consumes_only_an_injected_usage_chunk(telemetry: FakeTelemetry) -> None:
    chunks = [chunk for _, chunk in payloads.chat_chunks(include_usage=True)[:-1]]

    kept = list(wrap_stream(iter(chunks), telemetry, include_usage_injected=True, model="gpt-4o-mini"))
    passed = list(wrap_stream(iter(chunks), telemetry))

    assert (13, 14) == (len(kept), len(passed))
    assert 2 == len(telemetry.events)


async def test_wrap_async_stream_error_is_reraised(telemetry: FakeTelemetry) -> None:
    async def chunks() -> AsyncIterator[dict[str, Any]]:
        yield payloads.ollama_chat(done=False)
        raise OSError("connection reset")

    stream = wrap_async_stream(chunks(), telemetry, provider="ollama", model="llama3.2")
    with pytest.raises(OSError, match="connection reset"):
        async for _ in stream:
            pass

    assert Outcome.FAILURE == telemetry.event.outcome


def test_stream_finalized_exactly_once(telemetry: FakeTelemetry) -> None:
    """Exhaustion, close(), the with-exit and collection all end the same record: one event."""
    stream = wrap_stream(iter([payloads.ollama_chat()]), telemetry)
    with stream:
        list(stream)
        stream.close()
    del stream
    gc.collect()

    assert 1 == len(telemetry.events)
    assert 1 == stats().calls


def test_unrecognised_chunks_pass_through(telemetry: FakeTelemetry) -> None:
    items = [1, "two", None, {"x": 1}]

    assert items == list(wrap_stream(iter(items), telemetry))
    assert [] == telemetry.events


def test_task_hint_wins_over_inference_and_follows_the_block(telemetry: FakeTelemetry) -> None:
    with task_hint(TaskType.REFACTORING, complexity="high"):
        with llm_call(telemetry, request={"system": "You review code."}) as call:
            call.record(payloads.chat_completion())
        stream = wrap_stream(iter([payloads.ollama_chat()]), telemetry)
    list(stream)  # ends outside the block: the hint captured at the start still applies
    with llm_call(telemetry, request={"system": "You review code."}) as call:
        call.record(payloads.chat_completion())

    assert [("refactoring", "high"), ("refactoring", "high"), ("code_review", "medium")] == [
        (event.task_type.value, event.complexity.value) for event in telemetry.events
    ]


def test_task_hint_rejects_typos() -> None:
    with pytest.raises(ValueError, match="reviewing"), task_hint("reviewing"):
        pass  # pragma: no cover


@pytest.mark.parametrize(
    ("prompt", "task_type"),
    [
        ("You are a security auditor: find vulnerabilities.", TaskType.SECURITY_AUDIT),
        ("Review the following diff.", TaskType.CODE_REVIEW),
        ("Find the root cause of this traceback.", TaskType.DEBUGGING),
        ("Write unit tests with pytest.", TaskType.TESTING),
        ("Refactor this module.", TaskType.REFACTORING),
        ("Write docstrings and the README.", TaskType.DOCUMENTATION),
        ("Write a Dockerfile and the Kubernetes manifests.", TaskType.CONFIGURATION),
        ("Plan the work and break down the epic.", TaskType.PLANNING),
        ("You are an expert software engineer. Implement the feature.", TaskType.IMPLEMENTATION),
        ("You are a helpful assistant.", TaskType.UNKNOWN),
        ("", TaskType.UNKNOWN),
    ],
)
def test_keyword_map(prompt: str, task_type: TaskType) -> None:
    assert task_type == infer_task_type(system_prompt=prompt)


@pytest.mark.parametrize(
    "request_",
    [
        {"system": [{"type": "text", "text": "Review code."}]},
        {"messages": [{"role": "developer", "content": [{"type": "text", "text": "Review code."}]}]},
        {"input": [{"role": "system", "content": "Review code."}]},
        {"instructions": "Review code."},
    ],
)
def test_system_prompt_shapes(telemetry: FakeTelemetry, request_: dict[str, Any]) -> None:
    with llm_call(telemetry, request=request_) as call:
        call.record(payloads.chat_completion())

    assert TaskType.CODE_REVIEW == telemetry.event.task_type


def test_out_of_range_values_are_clamped_never_raised(telemetry: FakeTelemetry) -> None:
    with llm_call(telemetry, model="x" * 150, provider="openai") as call:
        call.record_usage(Usage(input_tokens=50_000_000, output_tokens=-3, cost_usd_micros=500_000_000))

    event = telemetry.event
    assert (100, 10_000_000, 0, 100_000_000) == (
        len(event.model),
        event.actual_input_tokens,
        event.actual_output_tokens,
        event.actual_cost_usd_micros,
    )
    assert 1 == stats().clamped


def test_instrumentation_errors_never_reach_the_caller(telemetry: FakeTelemetry) -> None:
    class Broken(FakeTelemetry):
        def track(self, event: Any) -> None:
            raise RuntimeError("telemetry bug")

    def on_result(result: object) -> None:
        raise RuntimeError("callback bug")

    with llm_call(Broken(), model="gpt-4o") as call:
        call.record(payloads.chat_completion())
    with llm_call(telemetry, on_result=on_result) as call:
        call.record(payloads.chat_completion())

    assert {SkipReason.INTERNAL_ERROR: 1} == dict(stats().skipped)
    assert 1 == len(telemetry.events)


def test_instrument_rejects_other_objects_and_is_idempotent(telemetry: FakeTelemetry) -> None:
    with pytest.raises(TypeError):
        instrument(object(), telemetry)
    client = payloads.anthropic_client(lambda request: httpx.Response(200))  # type: ignore[arg-type,return-value]
    create = instrument(client, telemetry).messages.create

    assert create is instrument(client, telemetry).messages.create
    assert isinstance(client, anthropic.Anthropic)


def test_with_a_real_telemetry_client() -> None:
    """Through a genuine TelemetryClient (never started: events wait in its queue), the event is what it tracks."""
    config = TelemetryConfig(server_url="http://127.0.0.1:9", api_key="k" * 64, instance_id=str(uuid.uuid4()))
    telemetry = TelemetryClient(config, transport=httpx.MockTransport(lambda request: httpx.Response(202)))
    client = instrument(payloads.anthropic_client(lambda request: httpx2_json(payloads.anthropic_message())), telemetry)

    client.messages.create(model=payloads.ANTHROPIC_MODEL, max_tokens=10, messages=[])

    assert (1, 1) == (telemetry.stats.tracked, telemetry.queue_size)
    assert 1 == stats().events


def httpx2_json(body: dict[str, Any]) -> Any:
    import httpx2

    return httpx2.Response(200, json=body)


def test_unknown_model_event_says_unpriced(telemetry: FakeTelemetry) -> None:
    with llm_call(telemetry, model="acme-coder-9000", provider="custom") as call:
        call.record_usage(Usage(input_tokens=10, output_tokens=10))

    assert call.result is not None
    assert (True, CostStatus.UNPRICED, 0) == (
        call.result.unpriced,
        call.result.cost.status,
        telemetry.event.actual_cost_usd_micros,
    )


def _unused(it: Iterator[int]) -> None:  # pragma: no cover - keeps Iterator imported for type checkers
    del it
