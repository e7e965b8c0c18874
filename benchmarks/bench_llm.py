"""Overhead of the LLM instrumentation (issue 8) beside the bare SDK call, in one run, on mock transports.

Run: ``python benchmarks/bench_llm.py`` (needs the test group's provider SDKs). Targets: ≤ 20 µs added per call,
≤ 1 µs added per streamed chunk. Each figure is a median of repeated runs; "added" is instrumented − bare, measured
in the same run, and the isolated rows time the instrumentation's own work without the SDK around it (the SDK's
~100s of µs per call are noisy enough to hide a 10 µs difference). Events go to a genuine ``TelemetryClient`` that is
never started: ``track()`` queues them (the oldest evicted past ``max_queue_size``), as in production.
"""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path
from typing import Any

import anthropic.types
import httpx2
from _timing import interleaved_medians, median_seconds, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.llm import payloads

from mosaicstack_telemetry import TelemetryClient, TelemetryConfig
from mosaicstack_telemetry.llm import instrument, wrap_stream
from mosaicstack_telemetry.llm.recorder import CallRecord, Options, recording
from mosaicstack_telemetry.llm.settle import settle

CHUNKS = 1_000
ARGS: dict[str, Any] = {
    "model": payloads.ANTHROPIC_MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "hi"}],
    "system": "You are a code reviewer.",
}


def telemetry() -> TelemetryClient:
    config = TelemetryConfig(server_url="http://127.0.0.1:9", api_key="k" * 64, instance_id=str(uuid.uuid4()))
    return TelemetryClient(config)


def message_reply(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=payloads.anthropic_message())


STREAM_BODY = payloads.sse(payloads.anthropic_events(deltas=CHUNKS))


def stream_reply(request: httpx2.Request) -> httpx2.Response:
    return payloads.sse_response(STREAM_BODY)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:10.2f} µs"


def main() -> None:
    logging.getLogger("mosaicstack_telemetry").setLevel(logging.ERROR)  # queue overflow is expected here
    sink = telemetry()

    bare = payloads.anthropic_client(message_reply)
    wrapped = instrument(payloads.anthropic_client(message_reply), sink)
    calls = interleaved_medians(
        {"bare": lambda: bare.messages.create(**ARGS), "wrapped": lambda: wrapped.messages.create(**ARGS)},
        number=200,
    )
    bare_call, wrapped_call = calls["bare"], calls["wrapped"]

    message = anthropic.types.Message.model_validate(payloads.anthropic_message())
    shared = Options(telemetry=sink)

    def instrumentation_only() -> None:  # what a wrapped create() does around the SDK's own call
        with recording(CallRecord(shared, request=ARGS)) as record:
            pass
        settle(record, message)

    isolated_call = median_seconds(instrumentation_only, number=2_000)

    bare_stream_client = payloads.anthropic_client(stream_reply)
    wrapped_stream_client = instrument(payloads.anthropic_client(stream_reply), sink)

    def drain(client: anthropic.Anthropic) -> None:
        for _ in client.messages.create(**ARGS, stream=True):
            pass

    streams = interleaved_medians(
        {"bare": lambda: drain(bare_stream_client), "wrapped": lambda: drain(wrapped_stream_client)}, number=5
    )
    bare_stream, wrapped_stream = streams["bare"], streams["wrapped"]

    events = list(bare_stream_client.messages.create(**ARGS, stream=True))  # genuine SDK event objects
    iterations = interleaved_medians(
        {
            "bare": lambda: sum(1 for _ in iter(events)),
            "wrapped": lambda: sum(1 for _ in wrap_stream(iter(events), sink)),
        },
        number=50,
    )
    bare_iter, wrapped_iter = iterations["bare"], iterations["wrapped"]
    per_chunk = (wrapped_iter - bare_iter) / len(events)
    per_chunk_e2e = (wrapped_stream - bare_stream) / len(events)

    print_table(
        f"LLM instrumentation overhead (anthropic messages; stream of {len(events)} events)",
        [
            ("bare messages.create", us(bare_call), ""),
            ("instrumented messages.create", us(wrapped_call), f"{wrapped_call / bare_call:.3f}×"),
            ("  added per call (end to end)", us(wrapped_call - bare_call), "target ≤ 20 µs"),
            ("  instrumentation alone per call", us(isolated_call), "target ≤ 20 µs"),
            ("bare stream, drained", us(bare_stream), ""),
            ("instrumented stream, drained", us(wrapped_stream), f"{wrapped_stream / bare_stream:.3f}×"),
            ("  added per chunk (end to end)", us(per_chunk_e2e), "target ≤ 1 µs"),
            ("  wrapper alone per chunk", us(per_chunk), "target ≤ 1 µs"),
        ],
    )


if __name__ == "__main__":
    main()
