"""Real-shaped provider payloads (JSON bodies, SSE and NDJSON streams) and SDK clients served from them offline.

anthropic 2.x and openai 3.x speak HTTP through ``httpx2`` (``httpx2.MockTransport``); ollama through ``httpx``.
Every SDK client has ``max_retries=0`` (an error test must not sleep) and the model ids are current ones (a
deprecated id makes the SDK warn, and warnings are errors here).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import anthropic
import httpx
import httpx2
import ollama
import openai

ANTHROPIC_MODEL = "claude-sonnet-5"
OPENAI_MODEL = "gpt-4o-mini"
OLLAMA_MODEL = "llama3.2"
OLLAMA_HOST = "http://127.0.0.1:11434"

# -- Anthropic ---------------------------------------------------------------------------------------------------------

#: 19 uncached input tokens beside 1,000 written to and 38,000 read from the cache: 39,019 input tokens in all.
ANTHROPIC_USAGE: dict[str, Any] = {
    "input_tokens": 19,
    "cache_creation_input_tokens": 1_000,
    "cache_read_input_tokens": 38_000,
    "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 400},
    "output_tokens": 250,
    "output_tokens_details": {"thinking_tokens": 100},
}


def anthropic_message(usage: dict[str, Any] | None = None, model: str = ANTHROPIC_MODEL) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Looks good."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE if usage is None else usage,
    }


def sse(events: Iterable[tuple[str | None, Any]]) -> bytes:
    """Server-sent events: ``(event name or None, data)`` pairs; data is JSON-encoded unless a str."""
    lines = []
    for name, data in events:
        if name is not None:
            lines.append(f"event: {name}")
        lines.append(f"data: {data if isinstance(data, str) else json.dumps(data)}")
        lines.append("")
    return ("\n".join(lines) + "\n").encode()


def anthropic_events(*, deltas: int = 12, final: bool = True, error: bool = False) -> list[tuple[str, Any]]:
    """A streamed message: ``message_start`` (input and cache counts, preliminary output 1), ``deltas`` text deltas,
    then a cumulative ``message_delta`` that repeats the input and cache counts, twice, and ``message_stop``."""
    start_usage = {
        key: ANTHROPIC_USAGE[key]
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation")
    }
    message = dict(anthropic_message(), content=[], stop_reason=None, usage={**start_usage, "output_tokens": 1})
    events: list[tuple[str, Any]] = [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
    ]
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "tok "}},
        )
        for _ in range(deltas)
    ]
    if error:
        events.append(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        return events
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    if final:
        for output in (120, 250):  # cumulative: the last one is the total, never the sum
            usage = {**start_usage, "output_tokens": output, "output_tokens_details": {"thinking_tokens": 100}}
            events.append(
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": usage,
                    },
                )
            )
        events.append(("message_stop", {"type": "message_stop"}))
    return events


# -- OpenAI ------------------------------------------------------------------------------------------------------------

#: cached and cache-written tokens are inside prompt_tokens; reasoning inside completion_tokens.
OPENAI_USAGE: dict[str, Any] = {
    "prompt_tokens": 2_000,
    "completion_tokens": 300,
    "total_tokens": 2_300,
    "prompt_tokens_details": {"cached_tokens": 1_500, "cache_write_tokens": 200, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 120, "audio_tokens": 0},
}


def chat_completion(usage: dict[str, Any] | None = None, model: str = "gpt-4o-mini-2024-07-18") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_763_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}],
        "usage": OPENAI_USAGE if usage is None else usage,
    }


def chat_chunks(*, include_usage: bool, deltas: int = 12, error: bool = False) -> list[tuple[None, Any]]:
    """A Chat Completions stream; with ``include_usage`` every chunk has ``usage: null`` and an extra last chunk
    with ``choices: []`` carries the usage."""
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_763_000_000,
        "model": "gpt-4o-mini-2024-07-18",
    }
    extra = {"usage": None} if include_usage else {}
    chunks: list[tuple[None, Any]] = [
        (None, {**base, **extra, "choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]})
        for _ in range(deltas)
    ]
    if error:
        chunks.append((None, {"error": {"message": "The server had an error", "type": "server_error"}}))
        return chunks
    chunks.append((None, {**base, **extra, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if include_usage:
        chunks.append((None, {**base, "choices": [], "usage": OPENAI_USAGE}))
    chunks.append((None, "[DONE]"))
    return chunks


RESPONSES_USAGE: dict[str, Any] = {
    "input_tokens": 5_000,
    "input_tokens_details": {"cached_tokens": 4_000, "cache_write_tokens": 0},
    "output_tokens": 700,
    "output_tokens_details": {"reasoning_tokens": 500},
    "total_tokens": 5_700,
}


def response_object(status: str = "completed", usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_763_000_000,
        "status": status,
        "model": "gpt-5-mini-2025-08-07",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": RESPONSES_USAGE if usage is None and status != "in_progress" else usage,
    }


RESPONSES_TEXT = "tok "


def responses_events(*, final: str | None = "response.completed", deltas: int = 12) -> list[tuple[str, Any]]:
    """A Responses stream as the API sends it: ``response.created``, one message output item with one text part
    (added, ``deltas`` text deltas, done), then ``final`` with the usage — complete enough for the SDK's own
    ``responses.stream()`` accumulator."""
    item_id = "msg_1"
    part = {"type": "output_text", "text": "", "annotations": []}
    item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    text = RESPONSES_TEXT * deltas
    done_part = {**part, "text": text}
    done_item = {**item, "status": "completed", "content": [done_part]}
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    bodies: list[dict[str, Any]] = [
        {"type": "response.created", "response": response_object("in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **where, "part": part},
    ]
    bodies += [
        {"type": "response.output_text.delta", **where, "delta": RESPONSES_TEXT, "logprobs": []} for _ in range(deltas)
    ]
    bodies += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": done_part},
        {"type": "response.output_item.done", "output_index": 0, "item": done_item},
    ]
    if final is not None:
        status = final.removeprefix("response.")
        bodies.append({"type": final, "response": {**response_object(status), "output": [done_item]}})
    return [(body["type"], {**body, "sequence_number": number}) for number, body in enumerate(bodies)]


EMBEDDING_RESPONSE: dict[str, Any] = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}

# -- Ollama ------------------------------------------------------------------------------------------------------------


def ollama_chat(
    *, prompt_eval_count: int | None = 26, eval_count: int | None = 12, done: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": OLLAMA_MODEL,
        "created_at": "2026-11-23T10:00:00.000000Z",
        "message": {"role": "assistant", "content": "" if done else "tok "},
        "done": done,
    }
    if done:
        body.update(
            done_reason="stop",
            total_duration=1_200_000_000,
            load_duration=10_000_000,
            prompt_eval_duration=50_000_000,
            eval_duration=900_000_000,
        )
        if prompt_eval_count is not None:  # absent when the prompt was cached
            body["prompt_eval_count"] = prompt_eval_count
        if eval_count is not None:
            body["eval_count"] = eval_count
    return body


def ndjson(parts: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(part).encode() + b"\n" for part in parts)


def ollama_stream(*, deltas: int = 12, final: dict[str, Any] | None = None, error: bool = False) -> bytes:
    parts = [ollama_chat(done=False) for _ in range(deltas)]
    if error:
        parts.append({"error": "model runner has unexpectedly stopped"})
    else:
        parts.append(final if final is not None else ollama_chat())
    return ndjson(parts)


# -- SDK clients on mock transports ------------------------------------------------------------------------------------

Handler2 = Callable[[httpx2.Request], httpx2.Response]
Handler = Callable[[httpx.Request], httpx.Response]


def sse_response(body: bytes) -> httpx2.Response:
    return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})


def anthropic_client(handler: Handler2) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test-key", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )


def async_anthropic_client(handler: Handler2) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="test-key", max_retries=0, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )


def openai_client(handler: Handler2, base_url: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="test-key",
        max_retries=0,
        base_url=base_url,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def async_openai_client(handler: Handler2) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="test-key", max_retries=0, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    )


def ollama_client(handler: Handler) -> ollama.Client:
    return ollama.Client(host=OLLAMA_HOST, transport=httpx.MockTransport(handler))


def async_ollama_client(handler: Handler) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=OLLAMA_HOST, transport=httpx.MockTransport(handler))


def error_body(kind: str = "api_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": "Internal server error"}}
