"""The dashboard's read API on SQLite: how long each ``/v1/stats/...`` answer takes as an instance grows.

Run: ``python benchmarks/bench_stats.py [EVENTS ...]`` (default: 10,000 and 100,000). For each size, one instance's
events (the browser tests' generator: 3 days, 3 models, 4 task types) go into a WAL-mode SQLite file with another
instance's as many again; then each endpoint is fetched over HTTP from a server in this process (``run_in_thread``),
unfiltered and filtered by one model, median of 7. Baseline, same run: ``GET /healthz`` (the HTTP round trip alone)
and a bare ``SELECT count(*)`` of the instance's events on the same database (what reading every row costs).
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server import _stats_support as data

from mosaicstack_telemetry.server import SQLiteStorage
from mosaicstack_telemetry.server.runner import run_in_thread

REPEATS = 7
KEY = "be" * 32
PATHS = ("/v1/stats/overview", "/v1/stats/events", "/v1/stats/filters", "/v1/stats/predictions")


def _median_ms(fetch: Callable[[], object], repeats: int = REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        fetch()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _fetch(http: httpx.Client, path: str, params: dict[str, str]) -> None:
    http.get(path, params=params).raise_for_status()


def run(size: int, directory: Path) -> None:
    path = directory / f"stats-{size}.sqlite3"
    with SQLiteStorage(path) as storage:
        received = datetime.now(timezone.utc)
        for instance, seed in ((data.INSTANCE, 1), (data.OTHER_INSTANCE, 2)):
            events = data.make_events(size, instance_id=instance, seed=seed)
            for start in range(0, size, 5_000):
                storage.insert_events(events[start : start + 5_000], received)
    with contextlib.closing(sqlite3.connect(path)) as connection:  # sqlite3's own `with` commits, never closes
        count_ms = _median_ms(
            lambda: connection.execute("SELECT count(*) FROM events WHERE instance_id = ?", (str(data.INSTANCE),))
        )
    with (
        SQLiteStorage(path) as storage,
        run_in_thread(storage=storage, instance_id=data.INSTANCE, api_key=KEY, prediction_max_age_seconds=30) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http,
    ):
        health_ms = _median_ms(lambda: http.get("/healthz"))
        print(
            f"\n{size:,} events of the instance (+{size:,} of another); baselines: /healthz {health_ms:.1f} ms,"
            f" SELECT count(*) of the instance {count_ms:.1f} ms"
        )
        print(f"{'endpoint':<24}{'all (ms)':>10}{'one model (ms)':>16}{'× count(*)':>12}")
        for endpoint in PATHS:
            params = {} if endpoint.endswith("filters") else {"model": "gpt-5"}
            every = _median_ms(functools.partial(_fetch, http, endpoint, {}))
            one = _median_ms(functools.partial(_fetch, http, endpoint, params))
            print(f"{endpoint:<24}{every:>10.1f}{one:>16.1f}{every / count_ms:>12.1f}")


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [10_000, 100_000]
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as directory:
        for size in sizes:
            run(size, Path(directory))


if __name__ == "__main__":
    main(sys.argv[1:])
