"""What the OTLP bridge (issue 19) ingests per second, JSON and protobuf, and what one open prompt costs in memory.

Run: ``python benchmarks/bench_bridge.py`` (protobuf rows need the ``otel`` extra). Requests of 512 Claude Code
records (each prompt: user_prompt, 4 api_request, 2 Bash tool_result, 1 assistant_response; every request new
sessions, so nothing is a duplicate) go through the ASGI app in process — body read, decode, dedup, mapping,
prompt assembly, one event per completed prompt tracked on a genuine ``TelemetryClient`` that is never started.
The same bodies also go through the reference server's ``/otlp`` mount in process (``server.otlp.OtlpMount``: the
api key looked up on a worker thread per request, the events stored in an in-memory SQLite at the end), its rate
beside the bridge's. The baseline, measured in the same run on the same bodies, is parsing alone (the bridge's JSON parser — orjson
with the ``fast`` extra — / protobuf ``ParseFromString``): the ratio is what the bridge costs beyond reading the bytes at all. Memory per open prompt is
tracemalloc's growth over 10,000 open prompts (their sums and the dedup keys of their 8 records) divided by 10,000.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _timing import print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.otel.claude import api_request, bash_result, encode, record, to_protobuf, user_prompt

from mosaicstack_telemetry import TelemetryClient, TelemetryConfig
from mosaicstack_telemetry.otel import BridgeApp
from mosaicstack_telemetry.otel.decode import JSON, decode_logs
from mosaicstack_telemetry.otel.decode import _loads as json_loads  # the parser the bridge uses (orjson if installed)
from mosaicstack_telemetry.server import SQLiteStorage
from mosaicstack_telemetry.server.keys import create_key
from mosaicstack_telemetry.server.otlp import OtlpMount

RECORDS_PER_REQUEST = 512
REQUESTS = 20
ROUNDS = 5
OPEN_PROMPTS = 10_000
INSTANCE = "12345678-1234-4234-8234-123456789abc"


def prompt(session: str, prompt_id: str, start_ms: int, sequence: int) -> list[dict[str, Any]]:
    """The 8 records of one prompt."""
    common: dict[str, Any] = {"session": session, "prompt_id": prompt_id}
    return [
        user_prompt(start_ms, sequence, **common),
        *(api_request(start_ms + 1000 * (i + 1), sequence + 1 + i, **common) for i in range(4)),
        bash_result(start_ms + 5000, sequence + 5, "pytest -q", **common),
        bash_result(start_ms + 6000, sequence + 6, "ruff check .", success=False, **common),
        record("assistant_response", start_ms + 7000, sequence + 7, response_length=10, **common),
    ]


def requests() -> list[list[dict[str, Any]]]:
    """REQUESTS lists of records; each prompt in its own session (prompts complete at shutdown). Every round uses a
    new app, so the same bodies are new to it."""
    per_request = RECORDS_PER_REQUEST // 8
    return [
        [item for p in range(per_request) for item in prompt(f"s{r}-{p}", f"p{r}-{p}", 0, 1)] for r in range(REQUESTS)
    ]


def telemetry() -> TelemetryClient:
    return TelemetryClient(TelemetryConfig(instance_id=INSTANCE, max_queue_size=1_000))


async def post(app: Any, body: bytes, content_type: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/logs",
        "headers": [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    await app(scope, receive, send)
    return status


def ingest_seconds(bodies: list[bytes], content_type: str) -> float:
    app = BridgeApp(telemetry(), max_open_prompts=100_000)

    async def run() -> None:
        for body in bodies:
            assert 200 == await post(app, body, content_type)
        app.close()

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    assert REQUESTS * RECORDS_PER_REQUEST == app.stats.records_mapped + app.stats.records_ignored
    return elapsed


def mount_seconds(bodies: list[bytes], content_type: str) -> float:
    """The same ingestion through the reference server's /otlp mount (key check per request, events stored)."""
    storage = SQLiteStorage()
    key = create_key(storage)
    mount = OtlpMount(storage, max_open_prompts=100_000)
    auth = ((b"authorization", f"Bearer {key.key}".encode()),)

    async def run() -> None:
        for body in bodies:
            assert 200 == await post(mount, body, content_type, auth)
        mount.close()

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    assert REQUESTS * RECORDS_PER_REQUEST // 8 == storage.count_events(key.instance_id)
    storage.close()
    return elapsed


def parse_seconds(bodies: list[bytes], parse: Callable[[bytes], object]) -> float:
    start = time.perf_counter()
    for body in bodies:
        parse(body)
    return time.perf_counter() - start


def protobuf_parse(body: bytes) -> object:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    message = ExportLogsServiceRequest()
    message.ParseFromString(body)
    return message


def throughput() -> None:
    encodings: dict[str, tuple[Callable[[list[dict[str, Any]]], bytes], str, Callable[[bytes], object]]] = {
        "JSON": (encode, JSON, json_loads)
    }
    try:
        import opentelemetry.proto  # noqa: F401

        encodings["protobuf"] = (to_protobuf, "application/x-protobuf", protobuf_parse)
    except ImportError:
        print("(protobuf rows skipped: install the otel extra)")
    total = REQUESTS * RECORDS_PER_REQUEST
    rows = []
    batches = requests()
    for name, (encoder, content_type, parse) in encodings.items():
        bridge_times, mount_times, parse_times = [], [], []
        bodies = [encoder(batch) for batch in batches]
        for _ in range(ROUNDS):
            parse_times.append(parse_seconds(bodies, parse))
            bridge_times.append(ingest_seconds(bodies, content_type))
            mount_times.append(mount_seconds(bodies, content_type))
        bridge, parsed = statistics.median(bridge_times), statistics.median(parse_times)
        mount = statistics.median(mount_times)
        size = len(bodies[0])
        rows.append((f"{name}: bridge, records/s", f"{total / bridge:,.0f}", f"{bridge / parsed:.1f}x parse alone"))
        rows.append(
            (
                f"{name}: server /otlp mount, records/s",
                f"{total / mount:,.0f}",
                f"{mount / bridge:.2f}x the bridge's time",
            )
        )
        rows.append((f"{name}: parse alone, records/s", f"{total / parsed:,.0f}", f"{size / 1024:.0f} KiB/request"))
    print_table(f"Ingestion: {REQUESTS} requests x {RECORDS_PER_REQUEST} records, median of {ROUNDS}", rows)


def memory_per_prompt() -> None:
    app = BridgeApp(telemetry(), max_open_prompts=OPEN_PROMPTS * 2)
    batches = [decode_logs(encode(prompt(f"m{i}", f"mp{i}", 0, 1)), JSON).records for i in range(OPEN_PROMPTS)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for index, records in enumerate(batches):
        app.assembler.add(records, float(index))
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert OPEN_PROMPTS == app.assembler.open_prompts
    per_prompt = (after - before) / OPEN_PROMPTS
    print_table(
        f"Memory: {OPEN_PROMPTS:,} open prompts of 8 records",
        [("per open prompt (sums + 8 dedup keys)", f"{per_prompt:,.0f} B", f"{OPEN_PROMPTS:,} ≈ {after - before:,} B")],
    )


if __name__ == "__main__":
    throughput()
    memory_per_prompt()
