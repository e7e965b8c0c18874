"""OpenAI through ``instrument()``: Chat Completions, Responses and embeddings, genuine SDK objects offline."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest

from mosaicstack_telemetry.llm import SkipReason, instrument, result_of, stats

from . import payloads
from .conftest import FakeTelemetry, expected, fields

#: gpt-4o-mini: 300 × $0.15 + 1,500 × $0.075 + 200 × $0.15 (writes at the input rate) + 300 × $0.6 = 367.5 → 368
CHAT = expected(
    model="gpt-4o-mini-2024-07-18",
    provider="openai",
    actual_input_tokens=2_000,
    actual_output_tokens=300,
    actual_cost_usd_micros=368,
)
#: gpt-5-mini: 1,000 × $0.25 + 4,000 × $0.025 + 700 × $2
RESPONSES = expected(
    model="gpt-5-mini-2025-08-07",
    provider="openai",
    actual_input_tokens=5_000,
    actual_output_tokens=700,
    actual_cost_usd_micros=1_750,
)
MESSAGES: Any = [{"role": "system", "content": "You write pytest unit tests."}, {"role": "user", "content": "add()"}]


class Server:
    """Answers like the OpenAI API; keeps the request bodies."""

    def __init__(self, *, fail: bool = False, error_mid_stream: bool = False, cost: float | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail = fail
        self.error_mid_stream = error_mid_stream
        self.cost = cost

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.fail:
            return httpx2.Response(500, json={"error": {"message": "boom", "type": "server_error"}})
        path = request.url.path
        if path.endswith("/embeddings"):
            return httpx2.Response(200, json=payloads.EMBEDDING_RESPONSE)
        if path.endswith("/responses"):
            if body.get("stream"):
                return payloads.sse_response(payloads.sse(payloads.responses_events()))
            return httpx2.Response(200, json=payloads.response_object())
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = payloads.chat_chunks(include_usage=include, error=self.error_mid_stream)
            return payloads.sse_response(payloads.sse(chunks))
        usage = dict(payloads.OPENAI_USAGE)
        if self.cost is not None:
            usage["cost"] = self.cost
        return httpx2.Response(200, json=payloads.chat_completion(usage=usage))


def test_chat_completion(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server()), telemetry)

    completion = client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES)

    assert "Done." == completion.choices[0].message.content
    assert expected(**{**CHAT, "task_type": "testing"}) == fields(telemetry.event)


def test_stream_usage_is_requested_and_its_chunk_consumed(telemetry: FakeTelemetry) -> None:
    """Without stream_options a Chat stream has no usage. The instrumentation asks for it, and consumes the
    extra chunk with empty choices it brings, so the caller's ``chunk.choices[0]`` keeps working."""
    server = Server()
    client = instrument(payloads.openai_client(server), telemetry)

    texts = [
        chunk.choices[0].delta.content
        for chunk in client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True)
    ]

    assert {"include_usage": True} == server.bodies[0]["stream_options"]
    assert 13 == len(texts)  # 12 deltas and the finish chunk: no usage-only chunk
    assert expected(**{**CHAT, "task_type": "testing"}) == fields(telemetry.event)


def test_caller_asked_for_usage_gets_the_usage_chunk(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server()), telemetry)

    chunks = list(
        client.chat.completions.create(
            model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    assert [] == chunks[-1].choices
    assert chunks[-1].usage is not None
    assert 2_300 == chunks[-1].usage.total_tokens
    assert 2_000 == telemetry.event.actual_input_tokens


def test_include_usage_opt_out_leaves_the_request_alone_and_reports_nothing(telemetry: FakeTelemetry) -> None:
    """include_usage=False: the request is sent as written; the stream has no usage, so no event (counted)."""
    server = Server()
    client = instrument(payloads.openai_client(server), telemetry, include_usage=False)

    list(client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True))

    assert "stream_options" not in server.bodies[0]
    assert [] == telemetry.events
    assert {SkipReason.USAGE_UNKNOWN: 1} == dict(stats().skipped)


def test_early_break_before_the_usage_chunk(telemetry: FakeTelemetry) -> None:
    """Broken off before the usage chunk: the counts are unknown, so no event — counted, and the stream's
    result says why."""
    client = instrument(payloads.openai_client(Server()), telemetry)

    stream = client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True)
    with stream:
        for _ in stream:
            break

    assert [] == telemetry.events
    result = result_of(stream)
    assert result is not None
    assert (SkipReason.USAGE_UNKNOWN, True) == (result.skipped, result.incomplete)
    assert 1 == stats().skipped[SkipReason.USAGE_UNKNOWN]


def test_chat_http_error(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server(fail=True)), telemetry)

    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES)

    assert expected(
        model=payloads.OPENAI_MODEL,
        provider="openai",
        actual_input_tokens=0,
        actual_output_tokens=0,
        actual_cost_usd_micros=0,
        outcome="failure",
        task_type="testing",
    ) == fields(telemetry.event)


def test_chat_error_mid_stream(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server(error_mid_stream=True)), telemetry)

    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True):
            pass

    assert ("failure", 0) == (telemetry.event.outcome.value, telemetry.event.actual_input_tokens)


def test_responses(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server()), telemetry)

    client.responses.create(model="gpt-5-mini", input="plan the migration", instructions="You are a planner.")
    events = list(client.responses.create(model="gpt-5-mini", input="x", stream=True))

    assert 19 == len(events)  # created, item and part added, 12 deltas, text, part and item done, completed
    assert [expected(**{**RESPONSES, "task_type": "planning"}), RESPONSES] == [fields(e) for e in telemetry.events]


@pytest.mark.parametrize(("final", "outcome"), [("response.incomplete", "partial"), ("response.failed", "failure")])
def test_responses_stream_final_events(telemetry: FakeTelemetry, final: str, outcome: str) -> None:
    """Usage comes only with response.completed / incomplete / failed, which also give the outcome."""

    def reply(request: httpx2.Request) -> httpx2.Response:
        return payloads.sse_response(payloads.sse(payloads.responses_events(final=final)))

    client = instrument(payloads.openai_client(reply), telemetry)

    list(client.responses.create(model="gpt-5-mini", input="x", stream=True))

    assert (outcome, 5_000) == (telemetry.event.outcome.value, telemetry.event.actual_input_tokens)


def test_responses_stream_cut_short(telemetry: FakeTelemetry) -> None:
    def reply(request: httpx2.Request) -> httpx2.Response:
        return payloads.sse_response(payloads.sse(payloads.responses_events(final=None)))

    client = instrument(payloads.openai_client(reply), telemetry)

    list(client.responses.create(model="gpt-5-mini", input="x", stream=True))

    assert [] == telemetry.events
    assert 1 == stats().skipped[SkipReason.USAGE_UNKNOWN]


def test_embeddings(telemetry: FakeTelemetry) -> None:
    """Embeddings usage has no completion count: output is 0, and the call is reported (as planning)."""
    client = instrument(payloads.openai_client(Server()), telemetry)

    client.embeddings.create(model="text-embedding-3-small", input="hello")

    assert expected(
        model="text-embedding-3-small",
        provider="openai",
        actual_input_tokens=8,
        actual_output_tokens=0,
        actual_cost_usd_micros=0,
        task_type="planning",
    ) == fields(telemetry.event)


def test_openrouter_reported_cost_wins(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server(cost=0.25), base_url="https://openrouter.ai/api/v1"), telemetry)

    client.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)

    assert ("openrouter", 250_000) == (telemetry.event.provider.value, telemetry.event.actual_cost_usd_micros)


LOCAL_GATEWAY = "http://127.0.0.1:4000/v1"


@pytest.mark.parametrize("echo_prefix", [False, True], ids=["upstream-name", "prefixed-name"])
def test_provider_prefix_behind_a_local_gateway(telemetry: FakeTelemetry, echo_prefix: bool) -> None:
    """A gateway on a custom base_url (LiteLLM-style): the endpoint says nothing, the model's prefix names the
    provider — whether the reply names the upstream model or echoes the prefixed one."""
    model = "openai/gpt-4o-mini"

    def gateway(request: httpx2.Request) -> httpx2.Response:
        reply = payloads.chat_completion(model=model if echo_prefix else "gpt-4o-mini-2024-07-18")
        return httpx2.Response(200, json=reply)

    client = instrument(payloads.openai_client(gateway, base_url=LOCAL_GATEWAY), telemetry)

    client.chat.completions.create(model=model, messages=MESSAGES)

    assert ("openai", 368) == (telemetry.event.provider.value, telemetry.event.actual_cost_usd_micros)


@pytest.mark.parametrize(
    ("model", "provider", "cost"),
    [
        ("acme/coder-7b", "custom", 0),  # an unknown prefix names nothing
        ("coder-7b", "custom", 0),
        ("ollama/llama3.2", "ollama", 0),
        # 300 × $2 + 1,500 × $0.2 (read) + 200 × $2.5 (written) + 300 × $10 per Mtok
        ("anthropic/claude-sonnet-5", "anthropic", 4_400),
    ],
)
def test_gateway_model_prefixes(telemetry: FakeTelemetry, model: str, provider: str, cost: int) -> None:
    """Only a known prefix names a provider; without one a gateway's calls stay custom."""

    def gateway(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=payloads.chat_completion(model=model))

    client = instrument(payloads.openai_client(gateway, base_url=LOCAL_GATEWAY), telemetry)

    client.chat.completions.create(model=model, messages=MESSAGES)

    assert (provider, cost) == (telemetry.event.provider.value, telemetry.event.actual_cost_usd_micros)


async def test_async_chat_responses_embeddings(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_openai_client(Server()), telemetry)

    await client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES)
    await client.responses.create(model="gpt-5-mini", input="x")
    await client.embeddings.create(model="text-embedding-3-small", input="x")

    assert [368, 1_750, 0] == [event.actual_cost_usd_micros for event in telemetry.events]


#: openai's AsyncStream stops at ``[DONE]`` leaving its inner async generators unfinished; trio warns when they are
#: collected (the bare SDK does the same, without instrumentation), asyncio finalizes them quietly.
ASYNCIO_ONLY = pytest.mark.parametrize("anyio_backend", [("asyncio", {"debug": True})], ids=["asyncio"])


@ASYNCIO_ONLY
async def test_async_chat_stream(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_openai_client(Server()), telemetry)

    stream = await client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True)
    async with stream:
        texts = [chunk.choices[0].delta.content async for chunk in stream]

    assert 13 == len(texts)
    assert expected(**{**CHAT, "task_type": "testing"}) == fields(telemetry.event)


async def test_async_error(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_openai_client(Server(fail=True)), telemetry)

    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True)

    assert "failure" == telemetry.event.outcome.value


# -- responses.stream() ------------------------------------------------------------------------------------------------

#: openai's async streams leave their inner async generators unfinished when left early; trio warns when they are
#: collected (the bare SDK does the same), asyncio finalizes them quietly. Only the SDK's own are ignored.
SDK_GENERATOR_WARNINGS = pytest.mark.filterwarnings("ignore:Async generator 'openai.:ResourceWarning")


def test_responses_stream_helper(telemetry: FakeTelemetry) -> None:
    """responses.stream(): the SDK's own ResponseStream is handed out; the request it makes is reported once."""
    client = instrument(payloads.openai_client(Server()), telemetry)

    manager = client.responses.stream(model="gpt-5-mini", input="x", instructions="You are a planner.")
    with manager as stream:
        assert "ResponseStream" == type(stream).__name__
        text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()

    assert (payloads.RESPONSES_TEXT * 12, 700) == (text, final.usage.output_tokens if final.usage else None)
    assert expected(**{**RESPONSES, "task_type": "planning"}) == fields(telemetry.event)
    result = result_of(manager)
    assert result is not None
    assert (result.event, False) == (telemetry.event, result.incomplete)


def test_responses_stream_helper_left_early(telemetry: FakeTelemetry) -> None:
    """Left before response.completed: the usage is unknown, so no event — counted when the block exits, not
    whenever the stream is collected."""
    client = instrument(payloads.openai_client(Server()), telemetry)

    manager = client.responses.stream(model="gpt-5-mini", input="x")
    with manager as stream:
        for _ in stream:
            break

    assert [] == telemetry.events
    assert {SkipReason.USAGE_UNKNOWN: 1} == dict(stats().skipped)
    result = result_of(manager)
    assert result is not None
    assert (SkipReason.USAGE_UNKNOWN, True) == (result.skipped, result.incomplete)
    del stream  # kept alive until here: the count above did not wait for the garbage collector


def test_responses_stream_helper_block_raises(telemetry: FakeTelemetry) -> None:
    """An exception leaving the block: after response.completed the call succeeded; before it, it failed (the
    counts unknown, so 0) — the exception propagates unchanged either way."""
    client = instrument(payloads.openai_client(Server()), telemetry)

    def read(*, to_the_end: bool) -> None:
        with client.responses.stream(model="gpt-5-mini", input="x") as stream:
            if to_the_end:
                stream.until_done()
            else:
                next(iter(stream))
            raise KeyError(to_the_end)

    with pytest.raises(KeyError):
        read(to_the_end=True)
    with pytest.raises(KeyError):
        read(to_the_end=False)

    assert [("success", 5_000), ("failure", 0)] == [
        (event.outcome.value, event.actual_input_tokens) for event in telemetry.events
    ]


def test_responses_stream_helper_request_fails(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server(fail=True)), telemetry)

    with pytest.raises(openai.InternalServerError), client.responses.stream(model="gpt-5-mini", input="x"):
        pass  # pragma: no cover - entering raises

    assert ("failure", "gpt-5-mini") == (telemetry.event.outcome.value, telemetry.event.model)


@SDK_GENERATOR_WARNINGS
async def test_async_responses_stream_helper(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_openai_client(Server()), telemetry)

    async with client.responses.stream(model="gpt-5-mini", input="x") as stream:
        final = await stream.get_final_response()
    manager = client.responses.stream(model="gpt-5-mini", input="x")
    async with manager as stream:
        async for _ in stream:
            break

    assert final.usage is not None
    assert 5_000 == final.usage.input_tokens
    assert [RESPONSES] == [fields(event) for event in telemetry.events]
    assert {SkipReason.USAGE_UNKNOWN: 1} == dict(stats().skipped)
    result = result_of(manager)
    assert result is not None
    assert result.incomplete


# -- with_raw_response -------------------------------------------------------------------------------------------------


def test_with_raw_response(telemetry: FakeTelemetry) -> None:
    """The raw response is returned as is (headers and all); its body is reported, parsed once."""
    client = instrument(payloads.openai_client(Server()), telemetry)

    raw = client.chat.completions.with_raw_response.create(model=payloads.OPENAI_MODEL, messages=MESSAGES)
    response = client.responses.with_raw_response.create(model="gpt-5-mini", input="x")
    embedding = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hello")

    assert "LegacyAPIResponse" == type(raw).__name__
    assert (200, "application/json") == (raw.status_code, raw.headers["content-type"])
    assert raw.parse() is raw.parse()  # the SDK's cached parse: ours cost the caller nothing more
    assert 2_000 == getattr(raw.parse().usage, "prompt_tokens", None)
    assert ("completed", 8) == (response.parse().status, embedding.parse().usage.prompt_tokens)
    assert [expected(**{**CHAT, "task_type": "testing"}), RESPONSES, 0] == [
        fields(event) if event.model != "text-embedding-3-small" else event.actual_cost_usd_micros
        for event in telemetry.events
    ]


def test_with_raw_response_stream(telemetry: FakeTelemetry) -> None:
    """stream=True: parse() gives the instrumented stream; the usage chunk asked for is consumed, as usual."""
    server = Server()
    client = instrument(payloads.openai_client(server), telemetry)

    raw = client.chat.completions.with_raw_response.create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True)
    stream = raw.parse()
    texts = [chunk.choices[0].delta.content for chunk in stream]

    assert raw.parse() is stream
    assert {"include_usage": True} == server.bodies[0]["stream_options"]
    assert 13 == len(texts)
    assert expected(**{**CHAT, "task_type": "testing"}) == fields(telemetry.event)
    assert telemetry.event == getattr(result_of(stream), "event", None)


def test_with_raw_response_built_before_instrument(telemetry: FakeTelemetry) -> None:
    """A ``with_raw_response`` the SDK built (and cached) before instrument() is rebuilt around the patched method."""
    client = payloads.openai_client(Server())
    before = client.chat.completions.with_raw_response
    instrument(client, telemetry)

    client.chat.completions.with_raw_response.create(model=payloads.OPENAI_MODEL, messages=MESSAGES)

    assert before is not client.chat.completions.with_raw_response
    assert 2_000 == telemetry.event.actual_input_tokens


def test_with_raw_response_error(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server(fail=True)), telemetry)

    with pytest.raises(openai.InternalServerError):
        client.chat.completions.with_raw_response.create(model=payloads.OPENAI_MODEL, messages=MESSAGES)

    assert "failure" == telemetry.event.outcome.value


@SDK_GENERATOR_WARNINGS
async def test_async_with_raw_response(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_openai_client(Server()), telemetry)

    raw = await client.chat.completions.with_raw_response.create(model=payloads.OPENAI_MODEL, messages=MESSAGES)
    streamed = await client.responses.with_raw_response.create(model="gpt-5-mini", input="x", stream=True)
    async with streamed.parse() as stream:
        kinds = [event.type async for event in stream]

    assert 2_000 == getattr(raw.parse().usage, "prompt_tokens", None)
    assert "response.completed" == kinds[-1]
    assert [expected(**{**CHAT, "task_type": "testing"}), RESPONSES] == [fields(e) for e in telemetry.events]


def test_with_streaming_response_is_left_alone(telemetry: FakeTelemetry) -> None:
    """with_streaming_response (the body read later, by the caller) is not reported — counted usage_unknown — and
    its request is sent as written: no include_usage whose extra chunk nothing would consume."""
    server = Server()
    client = instrument(payloads.openai_client(server), telemetry)

    create = client.chat.completions.with_streaming_response.create
    with create(model=payloads.OPENAI_MODEL, messages=MESSAGES, stream=True) as response:
        texts = [chunk.choices[0].delta.content for chunk in response.parse()]

    assert "stream_options" not in server.bodies[0]
    assert 13 == len(texts)
    assert [] == telemetry.events
    assert {SkipReason.USAGE_UNKNOWN: 1} == dict(stats().skipped)


# -- chat.completions.stream() -----------------------------------------------------------------------------------------


def test_chat_stream_helper(telemetry: FakeTelemetry) -> None:
    """chat.completions.stream() passes stream_options=omit on to create: usage is asked for (and its chunk
    consumed) as for create(stream=True), and the call is reported once."""
    server = Server()
    client = instrument(payloads.openai_client(server), telemetry)

    manager = client.chat.completions.stream(model=payloads.OPENAI_MODEL, messages=MESSAGES)
    with manager as stream:
        assert "ChatCompletionStream" == type(stream).__name__
        final = stream.get_final_completion()

    assert {"include_usage": True} == server.bodies[0]["stream_options"]
    assert "tok " * 12 == final.choices[0].message.content
    assert expected(**{**CHAT, "task_type": "testing"}) == fields(telemetry.event)
    assert telemetry.event == getattr(result_of(manager), "event", None)


def test_chat_stream_helper_left_early(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.openai_client(Server()), telemetry)

    with client.chat.completions.stream(model=payloads.OPENAI_MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            break

    assert [] == telemetry.events
    assert {SkipReason.USAGE_UNKNOWN: 1} == dict(stats().skipped)
    del stream


@SDK_GENERATOR_WARNINGS
async def test_async_chat_stream_helper(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_openai_client(Server()), telemetry)

    async with client.chat.completions.stream(model=payloads.OPENAI_MODEL, messages=MESSAGES) as stream:
        final = await stream.get_final_completion()

    assert "tok " * 12 == final.choices[0].message.content
    assert expected(**{**CHAT, "task_type": "testing"}) == fields(telemetry.event)
