"""Run a list of events through a real :class:`TelemetryClient` on a chosen backend, paced, then read predictions.

Three backends, one schedule: ``asyncio`` and ``trio`` run the client as ``async with`` inside ``anyio.run``;
``sync`` uses the sync facade (``with client``: the client's own thread) from this thread. The schedule is one
generator (:func:`_steps`) that tracks the events spread over ``seconds`` and says how long to pause; each backend
only supplies its way of pausing, so the three runs differ in exactly what the demo means to show.

After tracking, the run flushes — what an application does when its work is done — while it keeps updating the
display, until everything is settled (or :data:`SETTLE_SECONDS` have passed), then fetches the predictions. The
flush runs beside the display loop (a task on the async backends, a worker thread on ``sync``: the sync facade's
``flush()`` may be called from any thread) so the bars move while it waits.
"""

from __future__ import annotations

import importlib.util
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import anyio
import attrs

from ..client import TelemetryClient
from ..config import TelemetryConfig
from ..events import TaskCompletionEvent
from ..predictions import PredictionQuery, PredictionResponse
from ..stats import ClientStats

__all__ = ["BACKENDS", "SETTLE_SECONDS", "Backend", "Run", "backend_available", "drive"]

Backend = Literal["asyncio", "trio", "sync"]
BACKENDS: tuple[Backend, ...] = ("asyncio", "trio", "sync")

#: Pause between steps (and between looks at the client while it delivers).
TICK_SECONDS = 0.05
#: Longest wait for the client to deliver on its own after the last event was tracked.
SETTLE_SECONDS = 30.0

OnTick = Callable[[ClientStats], None]


@attrs.frozen
class Run:
    """What a run left behind: the client's final counters and the predictions it fetched."""

    stats: ClientStats
    predictions: dict[PredictionQuery, PredictionResponse | None]
    #: from the first event tracked until everything was delivered (or given up on)
    seconds: float


def backend_available(backend: Backend) -> bool:
    """Whether this installation can run ``backend`` (trio is an optional extra)."""
    return backend != "trio" or importlib.util.find_spec("trio") is not None


def _settled(stats: ClientStats) -> bool:
    return stats.queued == 0 and stats.in_flight == 0


def _steps(
    client: TelemetryClient,
    events: Sequence[TaskCompletionEvent],
    seconds: float,
    on_tick: OnTick,
) -> Iterator[float]:
    """Track ``events`` spread evenly over ``seconds`` (0: all at once); yields the pauses between steps."""
    total = len(events)
    start = time.monotonic()
    tracked = 0
    while tracked < total:
        elapsed = time.monotonic() - start
        due = total if seconds <= 0 else min(total, max(1, math.ceil(total * elapsed / seconds)))
        for event in events[tracked:due]:
            client.track(event)
        tracked = max(tracked, due)
        on_tick(client.stats)
        if tracked < total:
            yield TICK_SECONDS


def drive(
    config: TelemetryConfig,
    events: Sequence[TaskCompletionEvent],
    queries: Sequence[PredictionQuery],
    *,
    backend: Backend,
    seconds: float,
    on_tick: OnTick = lambda stats: None,
) -> Run:
    """Track ``events`` through a client on ``backend``, deliver them, fetch ``queries``; the client is stopped after."""
    if backend == "sync":
        return _drive_sync(config, events, queries, seconds, on_tick)

    async def main() -> Run:
        return await _drive_async(config, events, queries, seconds, on_tick)

    return anyio.run(main, backend=backend)


def _drive_sync(
    config: TelemetryConfig,
    events: Sequence[TaskCompletionEvent],
    queries: Sequence[PredictionQuery],
    seconds: float,
    on_tick: OnTick,
) -> Run:
    started = time.monotonic()
    with TelemetryClient(config) as client:
        for pause in _steps(client, events, seconds, on_tick):
            time.sleep(pause)
        deadline = time.monotonic() + SETTLE_SECONDS
        while not _settled(client.stats) and time.monotonic() < deadline:
            flushing = threading.Thread(target=client.flush, name="demo-flush", daemon=True)
            flushing.start()
            while flushing.is_alive():
                on_tick(client.stats)
                flushing.join(TICK_SECONDS)
        delivered = time.monotonic() - started
        client.refresh_predictions_sync(queries)
        predictions = {query: client.get_prediction(query) for query in queries}
    on_tick(client.stats)
    return Run(stats=client.stats, predictions=predictions, seconds=delivered)


async def _drive_async(
    config: TelemetryConfig,
    events: Sequence[TaskCompletionEvent],
    queries: Sequence[PredictionQuery],
    seconds: float,
    on_tick: OnTick,
) -> Run:
    started = time.monotonic()
    async with TelemetryClient(config) as client:
        for pause in _steps(client, events, seconds, on_tick):
            await anyio.sleep(pause)
        deadline = time.monotonic() + SETTLE_SECONDS
        while not _settled(client.stats) and time.monotonic() < deadline:
            await _flush_watched(client, on_tick)
        delivered = time.monotonic() - started
        await client.refresh_predictions(queries)
        predictions = {query: client.get_prediction(query) for query in queries}
    on_tick(client.stats)
    return Run(stats=client.stats, predictions=predictions, seconds=delivered)


async def _flush_watched(client: TelemetryClient, on_tick: OnTick) -> None:
    """``flush_async()``, with ``on_tick`` called every tick until it returns."""
    done = anyio.Event()

    async def flush() -> None:
        try:
            await client.flush_async()
        finally:
            done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(flush)
        while not done.is_set():
            on_tick(client.stats)
            with anyio.move_on_after(TICK_SECONDS):
                await done.wait()
