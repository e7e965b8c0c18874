"""The reference server: ingest rate, prediction latency at 100k events, and how one client's load affects others.

Run: ``nox -s bench`` or ``python benchmarks/bench_server.py [SCENARIO ...]`` (default: every scenario). The server runs in this process on its own thread
(``run_in_thread``) over a WAL-mode SQLite file in a temporary directory — the configuration a developer runs.

* **Ingest**: one client *process* posts ready-made 100-event batches, one after another on a keep-alive
  connection; events/s stored, against the baseline of the same batches inserted straight into the storage
  (no HTTP, no JSON, no validation) in the same run.
* **Predictions**: 100k events over a skewed mix of task types, models, providers and complexities (popular
  combinations have thousands of events, rare ones a handful); one batch of 20 queries (exact hits, fallbacks at
  every level, one with no data) over HTTP, cold (summary cache cleared before each batch) and warm (cached).
  Baseline, same run: the same 20 predictions computed by loading each group's rows into Python and sorting them
  there — what "not loading every row" avoids.
* **Stall**: ``GET /healthz`` every 10 ms from a prober process, idle (the baseline) and while four processes (at
  lower priority) post ~1 MiB bodies whose gate list holds ~520k entries, back to back. Target: p95 ≤ 50 ms.
* **Slow**: 2,000 connections (one process, lower priority) send a request line, then a header byte every 2 s:
  how many the server closes and after how long, and what ``/healthz`` answers meanwhile.
* **Mixed**: 100k events in 4 dense combinations; a load-generator process (lower priority) runs 2 writers posting
  1-event batches back to back, alone (the baseline) then with 16 readers each sending a 100-query prediction
  request every 200 ms (open loop). Targets: event POST p99 ≤ max(3× its idle p99, 25 ms), prediction p99 ≤ 1 s.
  The server runs with the ``serve`` default freshness bound; prediction latency is also shown inside the server.
* **Scale** and **pgpredict** (PostgreSQL, ``_server_scale.py``): ingest on SQLite ×1, PostgreSQL ×1 and ×2 workers
  under one client load, with CPU per process; a 100-query prediction request over 1M events on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from _server_scale import bench_pgpredict, bench_scale
from _timing import print_table

from mosaicstack_telemetry import PredictionQuery, TaskCompletionEvent, _wire
from mosaicstack_telemetry._protocol import (
    EVENTS_PATH,
    PREDICTIONS_PATH,
    decode_prediction_response,
    encode_prediction_request,
)
from mosaicstack_telemetry.server import (
    FALLBACK_LEVELS,
    HEALTH_PATH,
    MAX_BODY_BYTES,
    PREDICTION_MAX_AGE_SECONDS,
    SQLiteStorage,
    nearest_rank,
)
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread

INGEST_BATCHES = 300
STORED_EVENTS = 100_000
PREDICTION_ROUNDS = 15

TASK_TYPES = [
    "implementation",
    "debugging",
    "testing",
    "code_review",
    "refactoring",
    "planning",
    "documentation",
    "configuration",
    "unknown",
]  # no "security_audit": one query finds no data at all
MODELS = {
    "anthropic": ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"],
    "openai": ["gpt-5", "gpt-5-mini", "o4-mini"],
    "google": ["gemini-2.5-pro", "gemini-2.5-flash"],
}
COMPLEXITIES = ["low", "medium", "high", "critical"]


def event_fields(rng: random.Random, instance_id: str) -> dict[str, Any]:
    """One event; the mix is skewed (weights 1/rank) like real usage: a few combinations dominate."""
    task_type = rng.choices(TASK_TYPES, weights=[1 / (i + 1) for i in range(len(TASK_TYPES))])[0]
    provider = rng.choices(list(MODELS), weights=[6, 3, 1])[0]
    model = rng.choices(MODELS[provider], weights=[1 / (i + 1) for i in range(len(MODELS[provider]))])[0]
    estimated_in = rng.randint(0, 50_000)
    estimated_out = rng.randint(0, 10_000)
    return {
        "instance_id": instance_id,
        "task_duration_ms": rng.randint(1_000, 3_600_000),
        "task_type": task_type,
        "complexity": rng.choices(COMPLEXITIES, weights=[4, 3, 2, 1])[0],
        "harness": "claude_code",
        "model": model,
        "provider": provider,
        "estimated_input_tokens": estimated_in,
        "estimated_output_tokens": estimated_out,
        "actual_input_tokens": int(estimated_in * rng.uniform(0.5, 2.0)),
        "actual_output_tokens": int(estimated_out * rng.uniform(0.5, 2.0)),
        "estimated_cost_usd_micros": rng.randint(0, 2_000_000),
        "actual_cost_usd_micros": rng.randint(0, 2_000_000),
        "quality_gate_passed": rng.random() < 0.8,
        "quality_gates_run": ["lint", "test"],
        "quality_gates_failed": [],
        "context_compactions": rng.randint(0, 3),
        "context_rotations": 0,
        "context_utilization_final": rng.random(),
        "outcome": rng.choices(["success", "failure", "partial", "timeout"], weights=[7, 1, 1, 1])[0],
        "retry_count": rng.randint(0, 3),
        "language": "python",
    }


# -- ingest -----------------------------------------------------------------------------------------------------------


def _client_process(url: str, api_key: str, instance_id: str, batches: int, reply: Connection) -> None:
    """Build the bodies first, then post them one after another and report the wall time of the posting alone."""
    rng = random.Random(1)
    bodies = [
        _wire.dumps({"events": [TaskCompletionEvent(**event_fields(rng, instance_id)) for _ in range(100)]})
        for _ in range(batches + 1)
    ]
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as http:
        http.post(EVENTS_PATH, content=bodies.pop()).raise_for_status()  # warm-up: connection, first-time code
        started = time.perf_counter()
        for body in bodies:
            response = http.post(EVENTS_PATH, content=body)
            assert response.json()["accepted"] == 100, response.text
        reply.send(time.perf_counter() - started)


def bench_ingest(directory: Path) -> None:
    with SQLiteStorage(directory / "ingest.sqlite3") as storage, run_in_thread(storage=storage) as server:
        context = multiprocessing.get_context("spawn")
        receiving, sending = context.Pipe(duplex=False)
        client = context.Process(
            target=_client_process,
            args=(server.url, server.api_key, str(server.instance_id), INGEST_BATCHES, sending),
        )
        client.start()
        elapsed: float = receiving.recv()
        client.join()
        stored = storage.count_events()
        assert stored == (INGEST_BATCHES + 1) * 100
    http_rate = INGEST_BATCHES * 100 / elapsed

    rng = random.Random(2)
    instance = "12345678-1234-1234-1234-123456789abc"
    batches = [[TaskCompletionEvent(**event_fields(rng, instance)) for _ in range(100)] for _ in range(INGEST_BATCHES)]
    now = datetime.now(timezone.utc)
    with SQLiteStorage(directory / "baseline.sqlite3") as storage:
        started = time.perf_counter()
        for batch in batches:
            storage.insert_events(batch, now)
        raw_rate = INGEST_BATCHES * 100 / (time.perf_counter() - started)
    print_table(
        f"Ingest: {INGEST_BATCHES} batches of 100 events, one client process, WAL file",
        [
            ("storage.insert_events, no HTTP (baseline)", f"{raw_rate:,.0f} ev/s", "1.00×"),
            (
                "POST /v1/events/batch over loopback",
                f"{http_rate:,.0f} ev/s",
                f"{http_rate / raw_rate:.2f}× ({elapsed / INGEST_BATCHES * 1e3:.2f} ms per batch)",
            ),
        ],
    )


# -- predictions ------------------------------------------------------------------------------------------------------


def fill(storage: SQLiteStorage, count: int) -> float:
    rng = random.Random(3)
    instance = "12345678-1234-1234-1234-123456789abc"
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    for _ in range(count // 1_000):
        batch = [TaskCompletionEvent(**event_fields(rng, instance)) for _ in range(1_000)]
        storage.insert_events(batch, now)
    return time.perf_counter() - started


def twenty_queries() -> list[PredictionQuery]:
    """12 popular exact combinations, 4 rare ones, 2 unknown models, 1 unknown provider model, 1 without data."""
    wire = [
        *(
            {"task_type": t, "model": m, "provider": p, "complexity": c}
            for t, m, p, c in [
                ("implementation", "claude-sonnet-4-5", "anthropic", "low"),
                ("implementation", "claude-sonnet-4-5", "anthropic", "medium"),
                ("implementation", "claude-opus-4-1", "anthropic", "high"),
                ("implementation", "gpt-5", "openai", "low"),
                ("debugging", "claude-sonnet-4-5", "anthropic", "low"),
                ("debugging", "gpt-5", "openai", "medium"),
                ("testing", "claude-sonnet-4-5", "anthropic", "low"),
                ("testing", "claude-haiku-4-5", "anthropic", "medium"),
                ("code_review", "claude-sonnet-4-5", "anthropic", "low"),
                ("refactoring", "claude-sonnet-4-5", "anthropic", "medium"),
                ("planning", "gpt-5", "openai", "low"),
                ("documentation", "claude-sonnet-4-5", "anthropic", "low"),
                # rare: few exact events, fall back
                ("unknown", "gemini-2.5-flash", "google", "critical"),
                ("configuration", "o4-mini", "openai", "critical"),
                ("documentation", "gemini-2.5-flash", "google", "critical"),
                ("planning", "claude-haiku-4-5", "anthropic", "critical"),
                # unknown models: level 2 (task type + provider)
                ("implementation", "claude-next", "anthropic", "medium"),
                ("debugging", "gpt-6", "openai", "high"),
                # a provider nobody uses for testing: level 3
                ("testing", "mistral-large", "mistral", "medium"),
                # no data at all: -1
                ("security_audit", "claude-sonnet-4-5", "anthropic", "high"),
            ]
        )
    ]
    return [PredictionQuery.model_validate(q) for q in wire]


def load_every_row(storage: SQLiteStorage, queries: Sequence[PredictionQuery]) -> None:
    """Baseline: pick the level by counting, then fetch the group's rows and sort them in Python."""
    columns = "actual_input_tokens, actual_output_tokens, actual_cost_usd_micros, task_duration_ms"
    connection = storage._writer  # the benchmark's own shortcut: a direct read on the file's connection
    for query in queries:
        values = {
            "task_type": query.task_type.value,
            "model": query.model,
            "provider": query.provider.value,
            "complexity": query.complexity.value,
        }
        for names in FALLBACK_LEVELS:
            where = " AND ".join(f"{name} = ?" for name in names)
            params = [values[name] for name in names]
            rows = connection.execute(f"SELECT {columns} FROM events WHERE {where}", params).fetchall()  # noqa: S608
            if len(rows) >= 10:
                break
        if rows:
            for column in zip(*rows, strict=True):
                ordered = sorted(column)
                _ = [ordered[nearest_rank(p, len(ordered)) - 1] for p in (10, 25, 50, 75, 90)]


def percentile(samples: Sequence[float], percent: int) -> float:
    ordered = sorted(samples)
    return ordered[nearest_rank(percent, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def bench_predictions(directory: Path) -> None:
    with SQLiteStorage(directory / "predictions.sqlite3") as storage:
        fill_seconds = fill(storage, STORED_EVENTS)
        queries = twenty_queries()
        body = encode_prediction_request(queries)
        with (
            run_in_thread(storage=storage) as server,
            httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
                timeout=60.0,
            ) as http,
        ):
            answers = decode_prediction_response(http.post(PREDICTIONS_PATH, content=body).content)
            cold = timed_batches(server, http, body, clear_cache=True)
            warm = timed_batches(server, http, body, clear_cache=False)
        baseline = []
        for _ in range(PREDICTION_ROUNDS):
            started = time.perf_counter()
            load_every_row(storage, queries)
            baseline.append(time.perf_counter() - started)

    levels = [answer.metadata.fallback_level for answer in answers]
    samples = sum(answer.metadata.sample_size for answer in answers)
    largest = max(answer.metadata.sample_size for answer in answers)
    print(
        f"\nPredictions: {STORED_EVENTS:,} events stored ({STORED_EVENTS / fill_seconds:,.0f} ev/s straight into"
        f" storage); 20 queries at fallback levels {sorted(levels)}, {samples:,} events in their groups"
        f" (largest {largest:,})"
    )
    base = statistics.median(baseline)
    print_table(
        f"Latency of one 20-query batch, median / p90 of {PREDICTION_ROUNDS}",
        [
            (
                "rows loaded into Python and sorted there (baseline, no HTTP)",
                f"{ms(base)} / {ms(percentile(baseline, 90))}",
                "1.00×",
            ),
            (
                "POST /v1/predictions/batch, cold (summaries computed in SQL)",
                f"{ms(statistics.median(cold))} / {ms(percentile(cold, 90))}",
                f"{statistics.median(cold) / base:.2f}×",
            ),
            (
                "POST /v1/predictions/batch, warm (summary cache)",
                f"{ms(statistics.median(warm))} / {ms(percentile(warm, 90))}",
                f"{statistics.median(warm) / base:.2f}×",
            ),
        ],
    )


def timed_batches(server: ServerThread, http: httpx.Client, body: bytes, *, clear_cache: bool) -> list[float]:
    samples = []
    predictor = server.app.state.predictor
    for _ in range(PREDICTION_ROUNDS):
        if clear_cache:
            predictor.clear_cache()
        started = time.perf_counter()
        response = http.post(PREDICTIONS_PATH, content=body)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


# -- load from other processes ---------------------------------------------------------------------------------------


def _lower_priority() -> None:
    """Load generators yield the CPU to the server and the prober (the machine has 2 cores)."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)


def _probe(url: str, samples: int, interval: float, reply: Connection) -> None:
    """GET /healthz ``samples`` times, ``interval`` apart (open loop: a slow answer does not delay the schedule
    beyond itself); send the latencies."""
    latencies = []
    with httpx.Client(base_url=url, timeout=60.0) as http:
        http.get(HEALTH_PATH)
        next_at = time.perf_counter()
        for _ in range(samples):
            next_at += interval
            started = time.perf_counter()
            http.get(HEALTH_PATH).raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(max(0.0, next_at - time.perf_counter()))
    reply.send(latencies)


def _heavy_poster(url: str, api_key: str, body: bytes, *, stop: Any, counts: Any, index: int) -> None:
    """POST ``body`` back to back until ``stop`` is set, counting requests."""
    _lower_priority()
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=120.0) as http:
        while not stop.is_set():
            http.post(EVENTS_PATH, content=body).raise_for_status()
            counts[index] += 1


def _probe_latencies(context: Any, url: str, samples: int, interval: float) -> list[float]:
    receiving, sending = context.Pipe(duplex=False)
    prober = context.Process(target=_probe, args=(url, samples, interval, sending))
    prober.start()
    latencies: list[float] = receiving.recv()
    prober.join()
    return latencies


# -- stall: one huge body must not stall every request ----------------------------------------------------------------

STALL_CLIENTS = 4
STALL_PROBES = 300


def stall_body(instance_id: str) -> bytes:
    """~1 MiB: one event whose quality_gates_run holds ~520k entries (the attack the issue measured)."""
    event = event_fields(random.Random(4), instance_id)
    text = _wire.dumps({"events": [{**event, "quality_gates_run": []}]})
    filler = b"0," * ((MAX_BODY_BYTES - len(text) - 16) // 2)
    return text.replace(b'"quality_gates_run":[]', b'"quality_gates_run":[' + filler + b"0]")


def bench_stall(directory: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with SQLiteStorage(directory / "stall.sqlite3") as storage, run_in_thread(storage=storage) as server:
        body = stall_body(str(server.instance_id))
        assert len(body) <= MAX_BODY_BYTES, len(body)
        idle = _probe_latencies(context, server.url, STALL_PROBES, 0.01)
        stop = context.Event()
        counts: Any = context.Array("i", STALL_CLIENTS)
        posters = [
            context.Process(
                target=_heavy_poster,
                args=(server.url, server.api_key, body),
                kwargs={"stop": stop, "counts": counts, "index": index},
            )
            for index in range(STALL_CLIENTS)
        ]
        for poster in posters:
            poster.start()
        while sum(counts) < STALL_CLIENTS:  # every poster has had one answer: the load is on
            time.sleep(0.05)
        started, before = time.perf_counter(), sum(counts)
        loaded = _probe_latencies(context, server.url, STALL_PROBES, 0.01)
        heavy_rate = (sum(counts) - before) / (time.perf_counter() - started)
        stop.set()
        for poster in posters:
            poster.join(120)
    p95_idle, p95_loaded = percentile(idle, 95), percentile(loaded, 95)
    print_table(
        f"Stall: GET /healthz every 10 ms while {STALL_CLIENTS} processes POST {len(body) / 2**20:.2f} MiB bodies"
        f" (a {body.count(b',0')}-entry gate list) back to back — {heavy_rate:.1f} such requests/s; p50 / p95 of"
        f" {STALL_PROBES}",
        [
            ("/healthz idle (baseline)", f"{ms(statistics.median(idle))} / {ms(p95_idle)}", "1.00×"),
            (
                "/healthz under the huge bodies (target p95 ≤ 50 ms)",
                f"{ms(statistics.median(loaded))} / {ms(p95_loaded)}",
                f"{p95_loaded / p95_idle:.2f}× (p95)",
            ),
        ],
    )


# -- mixed: predictions must not starve ingestion --------------------------------------------------------------------

MIXED_EVENTS = 100_000
MIXED_WRITERS = 2
MIXED_READERS = 16
MIXED_READER_INTERVAL = 0.2
MIXED_QUERIES_PER_REQUEST = 100
MIXED_IDLE_SECONDS = 4.0
MIXED_LOAD_SECONDS = 12.0
#: The four dense combinations every stored event belongs to.
DENSE = [
    ("implementation", "claude-sonnet-4-5", "anthropic", "medium"),
    ("implementation", "gpt-5", "openai", "high"),
    ("debugging", "claude-sonnet-4-5", "anthropic", "low"),
    ("testing", "gemini-2.5-pro", "google", "medium"),
]


def dense_event(rng: random.Random, instance_id: str) -> dict[str, Any]:
    task_type, model, provider, complexity = rng.choice(DENSE)
    fields = event_fields(rng, instance_id)
    fields.update(task_type=task_type, model=model, provider=provider, complexity=complexity)
    return fields


def mixed_queries(rng: random.Random) -> bytes:
    """100 queries: the dense combinations exactly, and variants that fall back to them (other complexities)."""
    queries = []
    for _ in range(MIXED_QUERIES_PER_REQUEST):
        task_type, model, provider, complexity = rng.choice(DENSE)
        if rng.random() < 0.3:
            complexity = rng.choice(COMPLEXITIES)
        queries.append({"task_type": task_type, "model": model, "provider": provider, "complexity": complexity})
    return _wire.dumps({"queries": queries})


def _mixed_load(url: str, api_key: str, instance_id: str, *, go: Any, stop: Any, reply: Connection) -> None:
    """The load generator, one process at lower priority, one asyncio loop: 2 writers post 1-event batches back to
    back from the start; once ``go`` is set, 16 readers each send a 100-query request every 200 ms (open loop: on
    schedule, whatever the replies' latency, at most 8 in flight per reader), until ``stop``. Bodies are built
    beforehand, so the generator spends its CPU on sending. Sends the latencies: writes before and after ``go``,
    predictions."""
    _lower_priority()
    rng = random.Random(6)
    event_bodies = [
        _wire.dumps({"events": [TaskCompletionEvent(**dense_event(rng, instance_id))]}) for _ in range(30_000)
    ]
    query_bodies = [mixed_queries(rng) for _ in range(64)]
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    results: dict[str, list[float]] = {"idle": [], "loaded": [], "predictions": []}

    async def writer(http: httpx.AsyncClient, bodies: list[bytes]) -> None:
        for body in bodies:
            if stop.is_set():
                return
            phase = "loaded" if go.is_set() else "idle"
            started = time.perf_counter()
            (await http.post(EVENTS_PATH, content=body)).raise_for_status()
            results[phase].append(time.perf_counter() - started)

    async def predict(http: httpx.AsyncClient, body: bytes) -> None:
        started = time.perf_counter()
        (await http.post(PREDICTIONS_PATH, content=body)).raise_for_status()
        results["predictions"].append(time.perf_counter() - started)

    async def reader(http: httpx.AsyncClient, index: int) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        await asyncio.sleep(index * MIXED_READER_INTERVAL / MIXED_READERS)  # spread the readers out
        next_at = time.perf_counter()
        while not stop.is_set():
            if len(in_flight) < 8:
                task = asyncio.ensure_future(predict(http, query_bodies[(index + len(results["predictions"])) % 64]))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            next_at += MIXED_READER_INTERVAL
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        if in_flight:
            await asyncio.gather(*in_flight)

    async def main() -> None:
        limits = httpx.Limits(max_connections=MIXED_READERS * 8)
        async with (
            httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0) as first,
            httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0) as second,
            httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0, limits=limits) as readers,
        ):
            half = len(event_bodies) // 2
            writers = [
                asyncio.ensure_future(writer(first, event_bodies[:half])),
                asyncio.ensure_future(writer(second, event_bodies[half:])),
            ]
            await asyncio.to_thread(go.wait)
            await asyncio.gather(*(reader(readers, index) for index in range(MIXED_READERS)), *writers)

    asyncio.run(main())
    reply.send(results)


class _ServerSideTimes:
    """ASGI wrapper recording, per path, the time from the request reaching the app to its last byte sent (what
    the server itself takes, without the load generator's own delays)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.times.setdefault(scope["path"], []).append(time.perf_counter() - started)


def _p50_p99(samples: Sequence[float]) -> str:
    return f"{ms(statistics.median(samples))} / {ms(percentile(samples, 99))}" if samples else "none finished"


def bench_mixed(directory: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with SQLiteStorage(directory / "mixed.sqlite3") as storage:
        rng = random.Random(5)
        now = datetime.now(timezone.utc)
        instance = "12345678-1234-1234-1234-123456789abc"
        for _ in range(MIXED_EVENTS // 1_000):
            storage.insert_events([TaskCompletionEvent(**dense_event(rng, instance)) for _ in range(1_000)], now)
        server = ServerThread(storage=storage, prediction_max_age_seconds=PREDICTION_MAX_AGE_SECONDS)
        timing = _ServerSideTimes(server.app)
        server.app = timing  # type: ignore[assignment]  # still an ASGI app
        with server:
            go, stop = context.Event(), context.Event()
            receiving, sending = context.Pipe(duplex=False)
            load = context.Process(
                target=_mixed_load,
                args=(server.url, server.api_key, str(server.instance_id)),
                kwargs={"go": go, "stop": stop, "reply": sending},
            )
            load.start()
            while not timing.times.get(EVENTS_PATH):  # the generator has built its bodies and is writing
                time.sleep(0.05)
            time.sleep(MIXED_IDLE_SECONDS)
            go.set()
            time.sleep(MIXED_LOAD_SECONDS)
            server_side = timing.times.get(PREDICTIONS_PATH, [])[:]
            stop.set()
            phases: dict[str, list[float]] = receiving.recv()
            load.join(60)
    predictions = phases["predictions"]
    idle, loaded = phases["idle"], phases["loaded"]
    p99_idle = percentile(idle, 99)
    target = max(3 * p99_idle, 0.025)
    print_table(
        f"Mixed: {MIXED_EVENTS:,} events in 4 combinations; {MIXED_WRITERS} writers post 1-event batches back to"
        f" back; then {MIXED_READERS} readers each send {MIXED_QUERIES_PER_REQUEST}"
        f" queries every {MIXED_READER_INTERVAL * 1e3:.0f} ms for {MIXED_LOAD_SECONDS:.0f} s (the generator: one"
        " process, lower priority). p50 / p99 (count)",
        [
            ("event POST, writers alone (baseline)", f"{ms(statistics.median(idle))} / {ms(p99_idle)}", f"{len(idle)}"),
            (
                f"event POST with the readers (target p99 ≤ {ms(target)})",
                f"{ms(statistics.median(loaded))} / {ms(percentile(loaded, 99))}",
                f"{percentile(loaded, 99) / p99_idle:.2f}× p99 ({len(loaded)})",
            ),
            (
                "prediction POST, 100 queries (target p99 ≤ 1 s)",
                _p50_p99(predictions),
                f"({len(predictions)}; {len(predictions) / MIXED_LOAD_SECONDS:.0f}/s of"
                f" {MIXED_READERS / MIXED_READER_INTERVAL:.0f}/s scheduled)",
            ),
            (
                "  the same, inside the server (app entry to last byte)",
                _p50_p99(server_side),
                f"({len(server_side)})",
            ),
        ],
    )


# -- slow clients: connections that drip their headers ---------------------------------------------------------------

SLOW_CONNECTIONS = 2_000
SLOW_DRIP_SECONDS = 2.0
SLOW_WATCH_SECONDS = 12.0


def _slowloris(port: int, connections: int, *, reply: Connection) -> None:
    """Open ``connections`` connections that send a request line, then one header byte every 2 s, for
    SLOW_WATCH_SECONDS; send how long each stayed open (None: still open at the end). At lower priority."""
    _lower_priority()

    async def one(index: int, started: float) -> float | None:
        await asyncio.sleep(index * 0.001)  # 2,000 connections over 2 s, as a client would open them
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return 0.0
        opened = time.perf_counter()
        closed_after: float | None = None
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            while closed_after is None and time.perf_counter() - started < SLOW_WATCH_SECONDS:
                await writer.drain()
                with contextlib.suppress(asyncio.TimeoutError):
                    if not await asyncio.wait_for(reader.read(65536), SLOW_DRIP_SECONDS):
                        closed_after = time.perf_counter() - opened  # closed by the server
                writer.write(b"a")
        except (ConnectionError, OSError):
            closed_after = time.perf_counter() - opened
        finally:
            writer.close()
        return closed_after

    async def main() -> list[float | None]:
        started = time.perf_counter()
        return list(await asyncio.gather(*(one(index, started) for index in range(connections))))

    reply.send(asyncio.run(main()))


def bench_slow(directory: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with run_in_thread() as server:
        idle = _probe_latencies(context, server.url, 100, 0.02)
        receiving, sending = context.Pipe(duplex=False)
        attack = context.Process(target=_slowloris, args=(server.port, SLOW_CONNECTIONS), kwargs={"reply": sending})
        attack.start()
        time.sleep(3.0)  # every connection is open (or refused) by now
        statuses = []
        with httpx.Client(base_url=server.url, timeout=30.0) as http:
            for _ in range(50):  # from 3 s to 8 s into the attack: the connections are closed at 5 s
                statuses.append(http.get(HEALTH_PATH).status_code)
                time.sleep(0.1)
        held: list[float | None] = receiving.recv()
        attack.join(60)
    closed = sorted(seconds for seconds in held if seconds is not None)
    print_table(
        f"Slow clients: {SLOW_CONNECTIONS:,} connections dripping a header byte every {SLOW_DRIP_SECONDS:.0f} s,"
        f" watched for {SLOW_WATCH_SECONDS:.0f} s",
        [
            (
                "/healthz before the attack, p50 / p95 (baseline)",
                f"{ms(statistics.median(idle))} / {ms(percentile(idle, 95))}",
                "1.00×",
            ),
            ("connections the server closed", f"{len(closed):,} of {len(held):,}", ""),
            (
                "  held before being closed, p50 / max",
                f"{closed[len(closed) // 2]:.1f} s / {closed[-1]:.1f} s" if closed else "—",
                "",
            ),
            (
                "/healthz every 0.1 s from 3 s to 8 s (200 / 503)",
                f"{statuses.count(200)} / {statuses.count(503)}",
                f"first 200 after {3 + 0.1 * statuses.index(200):.1f} s" if 200 in statuses else "",
            ),
        ],
    )


SCENARIOS = {
    "ingest": bench_ingest,
    "predictions": bench_predictions,
    "stall": bench_stall,
    "mixed": bench_mixed,
    "slow": bench_slow,
    "scale": bench_scale,
    "pgpredict": bench_pgpredict,
}


def main() -> None:
    chosen = sys.argv[1:] or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s) {sorted(unknown)}; choose among {list(SCENARIOS)}")
    with tempfile.TemporaryDirectory(prefix="bench-server-") as directory:
        for name in chosen:
            SCENARIOS[name](Path(directory))


if __name__ == "__main__":
    main()
