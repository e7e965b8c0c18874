"""bench_server.py's PostgreSQL scenarios: ingest on SQLite ×1, PostgreSQL ×1 and ×2 workers, and predictions at 1M.

* **scale**: the same client load against three ``mosaic-telemetry serve`` processes in turn — SQLite ×1 worker
  (the baseline), PostgreSQL ×1 and ×2 workers (``--workers 2``). One load-generator process keeps
  :data:`CONNECTIONS` keep-alive connections busy posting ready-made 100-event batches back to back for
  :data:`SECONDS` s; events/s stored and request p50/p99. Beside each row, CPU used per process group over the
  window, in cores (CPU seconds ÷ wall seconds, from ``/proc``): the server (parent and workers), PostgreSQL's
  backends, the client. On 2 cores the three share the machine: the CPU figures say what each needs per event,
  which is what scaling past 2 cores depends on.
* **pgpredict**: 1M events in PostgreSQL (loaded with ``COPY``, then ``VACUUM ANALYZE``), a 100-query prediction
  request over HTTP: the first pass (every group's summary computed: the baseline) and then warm requests (summaries
  cached, the database asked only for its version), p50/p99.

The cluster is a throwaway one (``tests/_postgres.py``) with ``fsync`` on and ``synchronous_commit`` off — the
durability SQLite's ``synchronous=NORMAL`` gives the baseline.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import psycopg
from _timing import print_table

from mosaicstack_telemetry import TaskCompletionEvent, _wire
from mosaicstack_telemetry._protocol import EVENTS_PATH, PREDICTIONS_PATH
from mosaicstack_telemetry.server.columns import COLUMN_NAMES, event_values
from mosaicstack_telemetry.server.postgres import PostgresStorage
from mosaicstack_telemetry.server.runner import run_in_thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: tests/_postgres.py
from tests._postgres import PostgresCluster, start_cluster

CONNECTIONS = 8
SECONDS = 10.0
WARMUP_SECONDS = 1.5
INSTANCE = "12345678-1234-4234-8234-123456789abc"
API_KEY = "ab" * 32
PREDICT_EVENTS = 1_000_000
PREDICT_REQUESTS = 40


def _ticks(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) used so far by ``pids`` (those still alive)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _postgres_pids(cluster: PostgresCluster) -> list[int]:
    postmaster = int((cluster.directory / "data" / "postmaster.pid").read_text().split()[0])
    return [postmaster, *_children(postmaster)]


# -- the load generator -----------------------------------------------------------------------------------------------


def _load(commands: Connection) -> None:
    """One process: builds the bodies once, then for each ``(url, seconds)`` it receives, posts them from
    :data:`CONNECTIONS` connections back to back and sends back (events accepted, latencies, CPU seconds)."""
    rng = random.Random(8)
    from bench_server import event_fields  # the same events as the other scenarios

    bodies = [
        _wire.dumps({"events": [TaskCompletionEvent(**event_fields(rng, INSTANCE)) for _ in range(100)]})
        for _ in range(2_400)
    ]
    commands.send("ready")
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    async def run(url: str, seconds: float) -> tuple[int, list[float]]:
        queue = iter(bodies)
        latencies: list[float] = []
        accepted = 0
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60.0, limits=limits) as http:
            warm_until = time.perf_counter() + WARMUP_SECONDS
            end = warm_until + seconds

            async def connection() -> None:
                nonlocal accepted
                for body in queue:
                    started = time.perf_counter()
                    if started >= end:
                        return
                    reply = await http.post(EVENTS_PATH, content=body)
                    reply.raise_for_status()
                    if started >= warm_until:
                        latencies.append(time.perf_counter() - started)
                        accepted += reply.json()["accepted"]

            await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
        return accepted, latencies

    while True:
        command = commands.recv()
        if command is None:
            return
        url, seconds = command
        cpu = time.process_time()
        accepted, latencies = asyncio.run(run(url, seconds))
        commands.send((accepted, latencies, time.process_time() - cpu))


# -- servers ----------------------------------------------------------------------------------------------------------


@contextmanager
def _serve(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``mosaic-telemetry serve`` in a child process; its URL once it answers (and every worker is up)."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "mosaicstack_telemetry.cli", "serve", "--port", "0", "--json", "--api-key", API_KEY,
         "--instance-id", INSTANCE, *args],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_TELEMETRY_")}, **(env or {})},
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthz", timeout=1.0).raise_for_status()
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if len(_children(process.pid)) >= workers:
                break
            time.sleep(0.05)
        time.sleep(0.5 if workers else 0)  # the last worker's first accept
        yield url, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:  # a server that ignores Ctrl-C must not outlive the bench
            process.kill()
            process.wait()


def _percentile(samples: Sequence[float], percent: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def bench_scale(directory: Path) -> None:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    loader = context.Process(target=_load, args=(theirs,))
    loader.start()
    assert ours.recv() == "ready"
    cluster = start_cluster(durable=True)
    rows: list[tuple[str, str, str]] = []
    try:
        setups = [
            ("SQLite ×1 worker (baseline)", ["--db", str(directory / "scale.sqlite3")], None),
            ("PostgreSQL ×1 worker", ["--workers", "1"], cluster.create_database()),
            ("PostgreSQL ×2 workers", ["--workers", "2"], cluster.create_database()),
        ]
        baseline = 0.0
        for name, args, url in setups:
            env = None if url is None else {"MOSAIC_TELEMETRY_DATABASE_URL": url}
            with _serve(*args, env=env) as (server_url, process):
                server_pids = [process.pid, *_children(process.pid)]
                pg_pids = _postgres_pids(cluster) if url else []
                before = (_ticks(server_pids), _ticks(pg_pids), time.perf_counter())
                ours.send((server_url, SECONDS))
                accepted, latencies, client_cpu = ours.recv()
                wall = time.perf_counter() - before[2]
                server_cpu = _ticks(server_pids) - before[0]
                # backends connected during the window count whole (they did not exist before it)
                pg_cpu = _ticks(sorted(set(pg_pids) | set(_postgres_pids(cluster) if url else []))) - before[1]
            rate = accepted / SECONDS
            baseline = baseline or rate
            rows.append(
                (
                    name,
                    f"{rate:,.0f} ev/s",
                    f"{rate / baseline:.2f}×  p50 {_percentile(latencies, 50) * 1e3:.1f} ms,"
                    f" p99 {_percentile(latencies, 99) * 1e3:.1f} ms; CPU (cores): server {server_cpu / wall:.2f},"
                    f" postgres {pg_cpu / wall:.2f}, client {client_cpu / wall:.2f}",
                )
            )
    finally:
        ours.send(None)
        loader.join(30)
        cluster.stop()
    print_table(
        f"Scale: {CONNECTIONS} connections posting 100-event batches back to back for {SECONDS:.0f} s,"
        f" {os.cpu_count()} cores shared by client, server and database",
        rows,
    )


# -- predictions at 1M events -----------------------------------------------------------------------------------------


def _copy_events(url: str, count: int) -> float:
    """``count`` events into the database with COPY (the schema made by the storage), counters bumped; seconds."""
    from bench_server import event_fields

    rng = random.Random(9)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        columns = ", ".join(f'"{name}"' for name in COLUMN_NAMES)
        with connection.cursor() as cursor, cursor.copy(f"COPY events ({columns}) FROM STDIN".encode()) as copy:
            for _ in range(count):
                copy.write_row(event_values(TaskCompletionEvent(**event_fields(rng, INSTANCE)), now))
        connection.execute("UPDATE event_versions SET events = events + %s WHERE slot = 0", (count,))
        connection.execute("VACUUM ANALYZE events")
    return time.perf_counter() - started


def _hundred_queries() -> bytes:
    from bench_server import COMPLEXITIES, MODELS, TASK_TYPES

    rng = random.Random(10)
    queries = []
    for _ in range(100):
        provider = rng.choice(list(MODELS))
        queries.append(
            {
                "task_type": rng.choice([*TASK_TYPES, "security_audit"]),
                "model": rng.choice(MODELS[provider]),
                "provider": provider,
                "complexity": rng.choice(COMPLEXITIES),
            }
        )
    return _wire.dumps({"queries": queries})


def bench_pgpredict(directory: Path) -> None:
    cluster = start_cluster(durable=True)
    try:
        url = cluster.create_database()
        PostgresStorage(url).close()  # the schema
        filled = _copy_events(url, PREDICT_EVENTS)
        body = _hundred_queries()
        with run_in_thread(database_url=url) as server:  # prediction_max_age 0: the version is checked every time
            headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=120.0) as http:
                started = time.perf_counter()
                http.post(PREDICTIONS_PATH, content=body).raise_for_status()
                cold = time.perf_counter() - started
                warm: list[float] = []
                for _ in range(PREDICT_REQUESTS):
                    started = time.perf_counter()
                    http.post(PREDICTIONS_PATH, content=body).raise_for_status()
                    warm.append(time.perf_counter() - started)
    finally:
        cluster.stop()
    print_table(
        f"Predictions on PostgreSQL: {PREDICT_EVENTS:,} events (loaded in {filled:.0f} s), one 100-query request",
        [
            ("first pass: every summary computed (baseline)", f"{cold * 1e3:,.0f} ms", "1.00×"),
            (
                f"warm, {PREDICT_REQUESTS} requests: p50 / p99",
                f"{_percentile(warm, 50) * 1e3:.1f} / {_percentile(warm, 99) * 1e3:.1f} ms",
                f"{_percentile(warm, 99) / cold:.3f}× (target: p99 ≤ 200 ms)",
            ),
        ],
    )
