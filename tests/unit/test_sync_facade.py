"""The sync facade (start/stop/with on the client's own thread) and track() from many threads, on real time."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from mosaicstack_telemetry import EventBuilder, TelemetryClient, TelemetryConfig
from tests.unit.fake_server import API_KEY, INSTANCE_ID


class Recorder:
    """A thread-safe MockTransport handler that accepts everything and records the event ids."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.event_ids: list[str] = []
        self.batch_sizes: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        with self.lock:
            self.event_ids += [e["event_id"] for e in events]
            self.batch_sizes.append(len(events))
        results = [{"event_id": e["event_id"], "status": "accepted"} for e in events]
        return httpx.Response(202, json={"accepted": len(events), "rejected": 0, "results": results})


def make_client(recorder: Recorder, **overrides: Any) -> TelemetryClient:
    values: dict[str, Any] = {
        "server_url": "http://telemetry.test",
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
        "submit_interval_seconds": 0.2,
    }
    values.update(overrides)
    return TelemetryClient(TelemetryConfig(**values), transport=httpx.MockTransport(recorder))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_with_block_sends_everything_on_exit(backend: str) -> None:
    """`with TelemetryClient(config)` starts a thread, and leaving the block flushes and stops it."""
    recorder = Recorder()
    client = TelemetryClient(
        TelemetryConfig(
            server_url="http://telemetry.test",
            api_key=API_KEY,
            instance_id=INSTANCE_ID,
            submit_interval_seconds=300,
        ),
        transport=httpx.MockTransport(recorder),
        sync_backend=backend,  # type: ignore[arg-type]
    )
    threads_before = threading.active_count()
    with client:
        assert client.is_running
        assert threading.active_count() == threads_before + 1
        for _ in range(3):
            client.track(EventBuilder(INSTANCE_ID).build())
    assert 3 == len(recorder.event_ids)
    assert not client.is_running
    assert threading.active_count() == threads_before
    assert client.stats.balanced


def test_eight_threads_track_concurrently_and_nothing_is_lost() -> None:
    """8 threads × 500 events through the sync facade: every event arrives exactly once, batches ≤ 100."""
    recorder = Recorder()
    client = make_client(recorder, max_queue_size=4_000)
    events = [[EventBuilder(INSTANCE_ID).build() for _ in range(500)] for _ in range(8)]
    barrier = threading.Barrier(8)

    def worker(batch: list[Any]) -> None:
        barrier.wait()
        for item in batch:
            client.track(item)

    client.start()
    threads = [threading.Thread(target=worker, args=(batch,)) for batch in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.stop()
    expected = sorted(str(e.event_id) for batch in events for e in batch)
    assert expected == sorted(recorder.event_ids)
    assert max(recorder.batch_sizes) <= 100
    stats = client.stats
    assert (4_000, 4_000) == (stats.tracked, stats.sent)
    assert stats.balanced


def test_start_and_stop_are_idempotent_and_restartable() -> None:
    """start twice is one thread; stop twice is fine; start after stop works again."""
    recorder = Recorder()
    client = make_client(recorder)
    client.stop()
    client.start()
    client.start()
    client.track(EventBuilder(INSTANCE_ID).build())
    client.stop()
    client.stop()
    client.start()
    client.track(EventBuilder(INSTANCE_ID).build())
    client.flush()
    assert 2 == len(recorder.event_ids)
    client.stop()


def test_async_code_can_stop_a_client_started_with_start() -> None:
    """A client started by start() (its own thread) can be flushed and stopped from a user's event loop."""
    recorder = Recorder()
    client = make_client(recorder, submit_interval_seconds=300)
    client.start()
    client.track(EventBuilder(INSTANCE_ID).build())

    async def main() -> None:
        await client.flush_async()
        assert 1 == len(recorder.event_ids)
        await client.stop_async()

    anyio.run(main)
    assert not client.is_running


def test_track_from_the_event_loop_thread_and_foreign_threads_together() -> None:
    """Events tracked on the loop's own thread and from a foreign thread at once all arrive."""
    recorder = Recorder()
    client = make_client(recorder, submit_interval_seconds=300)

    async def main() -> None:
        async with client:

            def track_from_a_foreign_thread() -> None:
                for _ in range(250):
                    client.track(EventBuilder(INSTANCE_ID).build())

            foreign = threading.Thread(target=track_from_a_foreign_thread)
            foreign.start()
            for _ in range(250):
                client.track(EventBuilder(INSTANCE_ID).build())
                await anyio.lowlevel.checkpoint()
            await anyio.to_thread.run_sync(foreign.join)

    anyio.run(main)
    assert 500 == len(set(recorder.event_ids))


class PredictionRecorder(Recorder):
    """Also answers /v1/predictions/batch with an empty-data prediction per query."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/predictions/batch":
            return super().__call__(request)
        queries = json.loads(request.content)["queries"]
        meta = {"sample_size": 0, "fallback_level": -1, "confidence": "none"}
        return httpx.Response(200, json={"results": [{"prediction": None, "metadata": meta} for _ in queries]})


@pytest.mark.parametrize("started", [True, False])
def test_refresh_predictions_sync_from_plain_code(started: bool) -> None:
    """refresh_predictions_sync fills the cache with or without a started client; get_prediction reads it."""
    from mosaicstack_telemetry import Complexity, PredictionQuery, Provider, TaskType

    query = PredictionQuery(task_type=TaskType.TESTING, model="m", provider=Provider.OPENAI, complexity=Complexity.LOW)
    client = make_client(PredictionRecorder())
    if started:
        client.start()
    client.refresh_predictions_sync([query])
    response = client.get_prediction(query)
    assert response is not None
    assert "none" == response.metadata.confidence
    client.stop()


def test_sync_calls_from_another_thread_reach_a_client_running_on_a_users_loop() -> None:
    """Started with `async with` on a loop: refresh_predictions_sync, flush and stop from another thread work
    on that loop (no thread explosion, no silent no-op), and a blocking flush on the loop's own thread returns False."""
    from mosaicstack_telemetry import Complexity, PredictionQuery, Provider, TaskType

    query = PredictionQuery(task_type=TaskType.TESTING, model="m", provider=Provider.OPENAI, complexity=Complexity.LOW)
    recorder = PredictionRecorder()
    client = make_client(recorder, submit_interval_seconds=300)
    threads_before = threading.active_count()

    def from_another_thread() -> None:
        client.track(EventBuilder(INSTANCE_ID).build())
        client.refresh_predictions_sync([query])
        assert client.flush() is True
        assert 2 == len(recorder.event_ids)
        client.stop()

    async def main() -> None:
        await client.start_async()
        client.track(EventBuilder(INSTANCE_ID).build())
        assert client.flush() is False  # it would block the loop the client runs on: refused, never raised
        assert 0 == len(recorder.event_ids)
        await anyio.to_thread.run_sync(from_another_thread)
        assert not client.is_running

    anyio.run(main)
    assert client.get_prediction(query) is not None
    assert threading.active_count() <= threads_before + 1


def test_refresh_predictions_sync_on_the_loop_thread_of_a_running_client() -> None:
    """A blocking refresh called from async code on the core's own loop fetches on a short-lived client."""
    from mosaicstack_telemetry import Complexity, PredictionQuery, Provider, TaskType

    query = PredictionQuery(task_type=TaskType.TESTING, model="m", provider=Provider.OPENAI, complexity=Complexity.LOW)
    client = make_client(PredictionRecorder())

    async def main() -> None:
        async with client:
            client.refresh_predictions_sync([query])

    anyio.run(main)
    assert client.get_prediction(query) is not None
