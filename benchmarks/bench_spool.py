"""The durable spool (issue 9): what it costs ``track()``, how fast events flow through it, how long an event lives
only in memory before its commit.

Run: ``nox -s bench`` or ``python benchmarks/bench_spool.py``. Baselines measured in the same run, interleaved:
``collections.deque.append`` and the client without a spool. Target: ``track()`` with the spool ≤ 2× without.

* ``track()`` from the loop thread (the writer cannot run meanwhile: this is the code path alone) and from 8 threads
  while the client's own thread runs the writer (GIL contention with the writer included).
* Delivered events/s to a loopback sink, with and without the spool.
* The window: for events tracked at a steady rate, the time from ``track()`` returning to the commit that holds the
  event (measured by wrapping ``Spool.append``; the wrapper's own work makes the figure a little pessimistic).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
from _timing import print_table
from bench_engine import (
    config,
    interleaved_track_medians,
    loop_samples,
    ratio,
    start_sink,
    threaded_samples,
)
from bench_models import FIELDS

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryClient
from mosaicstack_telemetry._spool import Spool
from mosaicstack_telemetry._wire import dumps_each

BIG = 10_000_000


def bench_track(spool_dir: Path) -> None:
    events = [TaskCompletionEvent(**FIELDS) for _ in range(1000)]

    def candidates(
        plain: TelemetryClient, spooled: TelemetryClient
    ) -> dict[str, tuple[Callable[[Any], None], list[Any]]]:
        baseline: deque[Any] = deque(maxlen=BIG)
        return {"deque": (baseline.append, events), "memory": (plain.track, events), "spool": (spooled.track, events)}

    def clients(directory: Path) -> tuple[TelemetryClient, TelemetryClient]:
        plain = TelemetryClient(config("http://127.0.0.1:9", dry_run=True, max_queue_size=BIG))
        spooled = TelemetryClient(
            config(
                "http://127.0.0.1:9", dry_run=True, max_queue_size=BIG, spool_path=directory, spool_max_bytes=1 << 34
            )
        )
        return plain, spooled

    async def on_the_loop_thread() -> dict[str, float]:
        plain, spooled = clients(spool_dir / "loop")
        async with plain, spooled:
            return interleaved_track_medians(candidates(plain, spooled), loop_samples, rounds=30)

    loop = anyio.run(on_the_loop_thread)
    plain, spooled = clients(spool_dir / "threads")
    with plain, spooled:
        threads = interleaved_track_medians(candidates(plain, spooled), threaded_samples, rounds=5)
    for title, figures in (
        ("track() per call, from the event loop's thread", loop),
        ("track() per call, 8 threads at once while the spool writer runs (per thread)", threads),
    ):
        print_table(
            title,
            [
                ("deque.append (baseline)", f"{figures['deque']:,.0f} ns", "1.00×"),
                ("ours without a spool (baseline)", f"{figures['memory']:,.0f} ns", "1.00×"),
                (
                    "ours with the spool vs without",
                    f"{figures['spool']:,.0f} ns",
                    ratio(figures["spool"], figures["memory"], 2.0),
                ),
                ("ours with the spool vs deque.append", "", f"{figures['spool'] / figures['deque']:.2f}×"),
            ],
        )


def bench_delivery(url: str, spool_dir: Path, count: int = 20_000) -> None:
    events = [TaskCompletionEvent(**FIELDS) for _ in range(count)]

    def rate(backend: str, **overrides: Any) -> float:
        async def main() -> float:
            client = TelemetryClient(config(url, max_queue_size=count, **overrides))
            start = time.perf_counter()
            async with client:
                for index, event in enumerate(events):
                    client.track(event)
                    if index % 100 == 99:
                        await anyio.lowlevel.checkpoint()  # a producer that yields now and then
                await client.flush_async()
            assert client.stats.sent == count, client.stats
            return count / (time.perf_counter() - start)

        return anyio.run(main, backend=backend)

    rows = []
    for backend in ("asyncio", "trio"):
        samples: dict[str, list[float]] = {"memory": [], "spool": []}
        for round_ in range(3):
            samples["memory"].append(rate(backend))
            samples["spool"].append(rate(backend, spool_path=spool_dir / f"delivery-{backend}-{round_}"))
        memory, spool = statistics.median(samples["memory"]), statistics.median(samples["spool"])
        rows.append((f"{backend}: without a spool (baseline)", f"{memory:,.0f} ev/s", "1.00×"))
        rows.append((f"{backend}: through the spool", f"{spool:,.0f} ev/s", f"{spool / memory:.2f}×"))
    print_table(f"Delivered to a loopback sink, {count:,} events in batches of 100", rows)


def bench_writer_alone(spool_dir: Path, count: int = 100_000, batch: int = 100) -> None:
    events = [TaskCompletionEvent(**FIELDS) for _ in range(batch)]
    spool = Spool(spool_dir / "writer", 1 << 34)
    spool.open()
    start = time.perf_counter()
    for _ in range(count // batch):
        spool.append(dumps_each(events))
    elapsed = time.perf_counter() - start
    spool.close()
    print_table(
        "The spool alone (encode + one commit per batch, no network)",
        [(f"batches of {batch}", f"{count / elapsed:,.0f} ev/s", f"{elapsed / (count // batch) * 1e3:.2f} ms/commit")],
    )


_DURATION = re.compile(rb"\"task_duration_ms\":(\d+)")


def bench_window(url: str, spool_dir: Path, rate: int = 10_000, seconds: float = 2.0) -> None:
    """Track events at a steady rate from the loop thread; time each from track() to the commit holding it."""
    count = int(rate * seconds)
    tracked_at = [0] * count
    window_ns: list[int] = []
    original_append = Spool.append

    def timed_append(self: Spool, bodies: list[bytes]) -> None:
        original_append(self, bodies)
        committed = time.perf_counter_ns()
        for body in bodies:
            found = _DURATION.search(body)
            if found:
                window_ns.append(committed - tracked_at[int(found.group(1))])

    fields = dict(FIELDS)
    events = []
    for index in range(count):
        fields["task_duration_ms"] = index
        events.append(TaskCompletionEvent(**fields))

    async def main() -> None:
        client = TelemetryClient(config(url, max_queue_size=count, spool_path=spool_dir / "window"))
        async with client:
            start = time.perf_counter()
            for index, event in enumerate(events):
                client.track(event)
                tracked_at[index] = time.perf_counter_ns()
                if index % 10 == 9:  # ten events per millisecond at 10k/s
                    await anyio.sleep(max(0.0, start + (index + 1) / rate - time.perf_counter()))

    Spool.append = timed_append  # type: ignore[method-assign]
    try:
        anyio.run(main)
    finally:
        Spool.append = original_append  # type: ignore[method-assign]
    window_ms = sorted(value / 1e6 for value in window_ns)
    print_table(
        f"The window: track() → committed to the spool, {rate:,} events/s for {seconds:.0f} s ({len(window_ms):,} events)",
        [
            ("median", f"{statistics.median(window_ms):.2f} ms", ""),
            ("p99", f"{window_ms[int(len(window_ms) * 0.99)]:.2f} ms", ""),
            ("max", f"{window_ms[-1]:.2f} ms", "(documented bound: 50 ms)"),
        ],
    )


def main() -> None:
    sink, url = start_sink()
    try:
        with tempfile.TemporaryDirectory() as directory:
            spool_dir = Path(directory)
            bench_track(spool_dir)
            bench_writer_alone(spool_dir)
            bench_delivery(url, spool_dir)
            bench_window(url, spool_dir)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
