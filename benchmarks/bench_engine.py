"""The client engine against the design it replaces (issue: the client engine).

Run: ``nox -s bench`` or ``python benchmarks/bench_engine.py``. Baselines measured in the same run:
``collections.deque.append``, and the original SDK's design modelled in ``_original_design.py`` (lock + deque
``track()``, pydantic events, a threaded sync httpx sender). Targets: ``track()`` ≤ 0.5× the original's and
≤ 8× ``deque.append``, from the loop thread and from 8 concurrent threads; delivered events/s ≥ 1.5× the
original's; the longest event-loop stall the client causes while sending 20,000 events/s ≤ 2 ms per batch.
``track()`` is also measured with a ``before_send`` hook (one that returns the event): without one it must cost
what it did before hooks existed (the hook's check is off the fast path).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
from _original_design import OriginalClient
from _pydantic_baseline import PydanticEvent
from _timing import print_table
from bench_models import FIELDS

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig

HERE = Path(__file__).parent
API_KEY = "ab" * 32
INSTANCE_ID = "12345678-1234-1234-1234-123456789abc"
THREADS = 8


def config(url: str, **overrides: Any) -> TelemetryConfig:
    values: dict[str, Any] = {
        "server_url": url,
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
        "submit_interval_seconds": 0.05,
        "shutdown_timeout_seconds": 60.0,
    }
    values.update(overrides)
    return TelemetryConfig(**values)


def ratio(ours: float, baseline: float, target: float, *, higher_is_better: bool = False) -> str:
    value = ours / baseline
    meets = value >= target if higher_is_better else value <= target
    sign = "≥" if higher_is_better else "≤"
    return f"{value:.2f}× (target {sign} {target}×: {'meets' if meets else 'MISSES'})"


# -- track() cost -------------------------------------------------------------------------------------------------


def loop_samples(track: Callable[[Any], None], items: list[Any]) -> float:
    """Seconds per call of ``track`` over ``items``, once."""
    start = time.perf_counter()
    for item in items:
        track(item)
    return (time.perf_counter() - start) / len(items)


def threaded_samples(track: Callable[[Any], None], items: list[Any], repeat: int = 3) -> list[float]:
    """Seconds per call seen by each of 8 threads calling ``track`` at once."""
    samples: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker() -> None:
        barrier.wait()
        start = time.perf_counter()
        for _ in range(repeat):
            for item in items:
                track(item)
        with lock:
            samples.append((time.perf_counter() - start) / (repeat * len(items)))

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def interleaved_track_medians(
    candidates: dict[str, tuple[Callable[[Any], None], list[Any]]],
    sample: Callable[[Callable[[Any], None], list[Any]], float | list[float]],
    rounds: int,
) -> dict[str, float]:
    """Median ns per call of each candidate, sampled round-robin so that machine noise hits them alike."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, (track, items) in candidates.items():
            result = sample(track, items)
            samples[name] += result if isinstance(result, list) else [result]
    return {name: statistics.median(values) * 1e9 for name, values in samples.items()}


def keep(event: TaskCompletionEvent) -> TaskCompletionEvent:
    """The cheapest useful ``before_send``: keep every event as it is."""
    return event


def bench_track() -> None:
    ours_events = [TaskCompletionEvent(**FIELDS) for _ in range(1000)]
    theirs_events = [PydanticEvent.model_validate(FIELDS) for _ in range(1000)]
    big = 10_000_000

    def candidates(
        ours: TelemetryClient, hooked: TelemetryClient
    ) -> dict[str, tuple[Callable[[Any], None], list[Any]]]:
        plain: deque[Any] = deque(maxlen=big)
        original = OriginalClient("http://127.0.0.1:9", max_size=big)
        return {
            "deque": (plain.append, ours_events),
            "original": (original.track, theirs_events),
            "ours": (ours.track, ours_events),
            "hooked": (hooked.track, ours_events),
        }

    def client_pair() -> tuple[TelemetryClient, TelemetryClient]:
        plain = TelemetryClient(config("http://127.0.0.1:9", dry_run=True, max_queue_size=big))
        hooked = TelemetryClient(config("http://127.0.0.1:9", dry_run=True, max_queue_size=big, before_send=keep))
        return plain, hooked

    async def on_the_loop_thread() -> dict[str, float]:
        client, hooked = client_pair()
        async with client, hooked:
            return interleaved_track_medians(candidates(client, hooked), loop_samples, rounds=30)

    loop = anyio.run(on_the_loop_thread)
    client, hooked = client_pair()
    with client, hooked:
        threads = interleaved_track_medians(candidates(client, hooked), threaded_samples, rounds=5)

    for title, figures in (
        ("track() per call, from the event loop's thread", loop),
        (
            f"track() per call, {THREADS} threads at once (GIL contention included, per thread)",
            threads,
        ),
    ):
        print_table(
            title,
            [
                ("deque.append (baseline)", f"{figures['deque']:,.0f} ns", "1.00×"),
                (
                    "original design: lock + deque (baseline)",
                    f"{figures['original']:,.0f} ns",
                    "1.00×",
                ),
                (
                    "ours vs original",
                    f"{figures['ours']:,.0f} ns",
                    ratio(figures["ours"], figures["original"], 0.5),
                ),
                ("ours vs deque.append", "", ratio(figures["ours"], figures["deque"], 8.0)),
                (
                    "ours with before_send (returns the event) vs without",
                    f"{figures['hooked']:,.0f} ns",
                    f"{figures['hooked'] / figures['ours']:.2f}×",
                ),
            ],
        )


# -- delivery throughput ------------------------------------------------------------------------------------------


def start_sink() -> tuple[subprocess.Popen[str], str]:
    sink = subprocess.Popen(  # noqa: S603 - our own script, loopback only
        [sys.executable, str(HERE / "_sink.py"), "300"], stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None
    port = int(sink.stdout.readline())
    return sink, f"http://127.0.0.1:{port}"


def bench_delivery(url: str, count: int = 20_000) -> None:
    ours_events = [TaskCompletionEvent(**FIELDS) for _ in range(count)]
    theirs_events = [PydanticEvent.model_validate(FIELDS) for _ in range(count)]

    def original_rate() -> float:
        client = OriginalClient(f"{url}/v1/events/batch", max_size=count)
        start = time.perf_counter()
        client.start()
        for event in theirs_events:
            client.track(event)
        client.stop()
        assert client.sent == count
        return count / (time.perf_counter() - start)

    def ours_async(backend: str) -> float:
        async def main() -> float:
            client = TelemetryClient(config(url, max_queue_size=count))
            start = time.perf_counter()
            async with client:
                for index, event in enumerate(ours_events):
                    client.track(event)
                    if index % 100 == 99:
                        await anyio.lowlevel.checkpoint()  # a producer that yields now and then, as real code does
            assert client.stats.sent == count, client.stats
            return count / (time.perf_counter() - start)

        return anyio.run(main, backend=backend)

    def ours_sync() -> float:
        client = TelemetryClient(config(url, max_queue_size=count))
        start = time.perf_counter()
        with client:
            for event in ours_events:
                client.track(event)
        assert client.stats.sent == count, client.stats
        return count / (time.perf_counter() - start)

    baseline = statistics.median(original_rate() for _ in range(3))
    rows = [("original design: sync httpx thread (baseline)", f"{baseline:,.0f} ev/s", "1.00×")]
    runs: list[tuple[str, Callable[[], float]]] = [
        ("ours, asyncio", lambda: ours_async("asyncio")),
        ("ours, trio", lambda: ours_async("trio")),
        ("ours, sync facade", ours_sync),
    ]
    for label, run in runs:
        rate = statistics.median(run() for _ in range(3))
        rows.append((label, f"{rate:,.0f} ev/s", ratio(rate, baseline, 1.5, higher_is_better=True)))
    print_table(f"Delivered to a loopback sink, {count:,} events in batches of 100", rows)


# -- event-loop stall ---------------------------------------------------------------------------------------------


def bench_stall(url: str, seconds: float = 2.0, rate: int = 20_000, runs: int = 3) -> None:
    """The lag a 1 ms-sleeping probe task sees, with and without the client sending, runs interleaved.

    The machine is shared: a single max is mostly noise, so the table gives medians over runs of the max and of
    the 99th percentile, for the producer alone (baseline) and the producer plus the client.
    """
    events = [TaskCompletionEvent(**FIELDS) for _ in range(rate // 100)]

    async def run(with_client: bool) -> tuple[float, float, int]:
        lags: list[float] = []
        client = TelemetryClient(config(url, max_queue_size=100_000, submit_interval_seconds=0.5))
        done = anyio.Event()

        async def probe() -> None:
            while not done.is_set():
                start = time.perf_counter()
                await anyio.sleep(0.001)
                lags.append(time.perf_counter() - start - 0.001)

        async def produce() -> None:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                for event in events:  # 1/100 s worth of events
                    if with_client:
                        client.track(event)
                await anyio.sleep(0.01)
            done.set()

        async with anyio.create_task_group() as tasks:
            if with_client:
                await client.start_async()
            tasks.start_soon(probe)
            tasks.start_soon(produce)
        await client.stop_async()
        lags.sort()
        return lags[-1], lags[int(len(lags) * 0.99)], client.stats.sent

    results: dict[bool, list[tuple[float, float, int]]] = {False: [], True: []}
    for _ in range(runs):
        for with_client in (False, True):
            results[with_client].append(anyio.run(run, with_client))
    idle_max = statistics.median(r[0] for r in results[False])
    idle_p99 = statistics.median(r[1] for r in results[False])
    busy_max = statistics.median(r[0] for r in results[True])
    busy_p99 = statistics.median(r[1] for r in results[True])
    batches = statistics.median(r[2] for r in results[True]) // 100
    added = busy_max - idle_max
    verdict = "meets" if added <= 0.002 else "MISSES"
    print_table(
        f"Event-loop lag, asyncio, {rate:,} events/s for {seconds:.0f} s (1 ms probe; medians of {runs} runs)",
        [
            ("producer alone: max / p99 (baseline)", f"{idle_max * 1e3:.2f} / {idle_p99 * 1e3:.2f} ms", ""),
            (
                f"producer + client ({batches:.0f} batches): max / p99",
                f"{busy_max * 1e3:.2f} / {busy_p99 * 1e3:.2f} ms",
                f"max added {added * 1e3:.2f} ms ({verdict}: target ≤ 2 ms per batch)",
            ),
        ],
    )


def main() -> None:
    bench_track()
    sink, url = start_sink()
    try:
        bench_delivery(url)
        bench_stall(url)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
