"""Predictions never starve ingestion: a freshness bound on cached summaries, answers from the cache without a worker
thread, and prediction work behind a limiter of its own."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any
from uuid import uuid4

import httpx
import pytest

from mosaicstack_telemetry import PredictionQuery, TaskCompletionEvent
from mosaicstack_telemetry._protocol import EVENTS_PATH, PREDICTIONS_PATH
from mosaicstack_telemetry.server import PREDICTION_MAX_AGE_SECONDS, Predictor, SQLiteStorage, create_app
from mosaicstack_telemetry.server.app import PREDICTION_CONCURRENCY
from mosaicstack_telemetry.server.runner import run_in_thread

from ._server_support import query, wire_event

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)
INSTANCE = uuid4()
PROBE = PredictionQuery.model_validate(query())
FALLBACK = PredictionQuery.model_validate(query(complexity="low"))  # level 1 for the events below
NO_DATA = PredictionQuery.model_validate(query(task_type="security_audit"))


class Seconds:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def storage() -> Iterator[SQLiteStorage]:
    with SQLiteStorage() as store:
        yield store


def add(storage: SQLiteStorage, count: int) -> None:
    events = [TaskCompletionEvent.model_validate(wire_event(INSTANCE)) for _ in range(count)]
    storage.insert_events(events, NOW)


def sizes(predictor: Predictor, *queries: PredictionQuery) -> list[tuple[int, bool]]:
    return [(a.metadata.sample_size, bool(a.metadata.cache_hit)) for a in predictor.predict_batch(list(queries))]


def test_within_the_bound_inserts_do_not_invalidate(storage: SQLiteStorage) -> None:
    """Younger than max_age: the cached answer, although events were added; older: recomputed."""
    seconds = Seconds()
    predictor = Predictor(storage, clock=lambda: NOW, max_age_seconds=30, monotonic=seconds)
    add(storage, 12)
    assert [(12, False), (12, False)] == sizes(predictor, PROBE, FALLBACK)
    add(storage, 5)
    seconds.now += 29.9
    assert [(12, True), (12, True)] == sizes(predictor, PROBE, FALLBACK)
    seconds.now += 0.1
    also_level_1 = PredictionQuery.model_validate(query(complexity="high"))  # FALLBACK's group: computed once
    assert [(17, False), (17, False), (17, True)] == sizes(predictor, PROBE, FALLBACK, also_level_1)


def test_without_inserts_an_old_entry_stays_valid(storage: SQLiteStorage) -> None:
    """The bound only matters when events arrived: an unchanged database keeps its summaries however old."""
    seconds = Seconds()
    predictor = Predictor(storage, max_age_seconds=30, monotonic=seconds)
    add(storage, 12)
    sizes(predictor, PROBE)
    seconds.now += 3_600
    assert [(12, True)] == sizes(predictor, PROBE)


def test_predict_cached_answers_only_from_fresh_entries(storage: SQLiteStorage) -> None:
    seconds = Seconds()
    predictor = Predictor(storage, clock=lambda: NOW, max_age_seconds=30, monotonic=seconds)
    add(storage, 12)
    assert predictor.predict_cached([PROBE]) is None  # nothing cached yet
    computed = predictor.predict_batch([PROBE, FALLBACK, NO_DATA])
    cached = predictor.predict_cached([PROBE, FALLBACK, NO_DATA, PROBE])
    assert cached is not None
    assert [a.prediction for a in computed] + [computed[0].prediction] == [a.prediction for a in cached]
    assert [True, True, False, True] == [a.metadata.cache_hit for a in cached]
    assert (-1, NOW) == (cached[2].metadata.fallback_level, cached[0].metadata.last_updated)
    seconds.now += 30
    assert predictor.predict_cached([PROBE]) is None  # too old: the storage decides again
    exact = Predictor(storage, max_age_seconds=0)
    exact.predict_batch([PROBE])
    assert exact.predict_cached([PROBE]) is None  # a bound of 0 always asks the storage


def test_the_bound_must_not_be_negative(storage: SQLiteStorage) -> None:
    with pytest.raises(ValueError, match="max_age_seconds=-1 must be at least 0"):
        Predictor(storage, max_age_seconds=-1)


def test_the_server_setting_reaches_the_predictor(storage: SQLiteStorage) -> None:
    assert PREDICTION_MAX_AGE_SECONDS == create_app(storage).state.predictor.max_age_seconds
    assert 0 == create_app(storage, prediction_max_age_seconds=0).state.predictor.max_age_seconds
    with run_in_thread() as server:  # the in-process server answers exactly by default: tests read what they wrote
        assert 0 == server.app.state.predictor.max_age_seconds


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.005)


def test_prediction_work_queues_behind_its_own_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Predictions beyond the limiter's capacity wait for it, while event posts are served."""
    release = threading.Event()
    with run_in_thread() as server:
        predictor = server.app.state.predictor
        original = predictor.predict_batch

        def slow(queries: Any) -> Any:
            release.wait(20)
            return original(queries)

        monkeypatch.setattr(predictor, "predict_batch", slow)
        limiter = server.app.state.prediction_limiter
        headers = {"Authorization": f"Bearer {server.api_key}"}
        statuses: list[int] = []

        def ask() -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
                statuses.append(http.post(PREDICTIONS_PATH, json={"queries": [query()]}).status_code)

        askers = [threading.Thread(target=ask) for _ in range(PREDICTION_CONCURRENCY + 1)]
        for thread in askers:
            thread.start()
        try:
            wait_for(lambda: limiter.statistics().borrowed_tokens == PREDICTION_CONCURRENCY)
            wait_for(lambda: limiter.statistics().tasks_waiting == 1)
            with httpx.Client(base_url=server.url, headers=headers, timeout=5) as http:
                reply = http.post(EVENTS_PATH, json={"events": [wire_event(server.instance_id)]})
            assert 1 == reply.json()["accepted"]
        finally:
            release.set()
            for thread in askers:
                thread.join(30)
    assert [200] * (PREDICTION_CONCURRENCY + 1) == statuses


class _Entering:
    """A lock that says when a second thread comes to wait on it (the first holds it while it computes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries = 0
        self.second_waits = threading.Event()

    def __enter__(self) -> None:
        self.entries += 1
        if self.entries == 2:
            self.second_waits.set()
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


def test_concurrent_requests_for_one_group_compute_it_once(tmp_path: Any) -> None:
    """Single flight, on real threads: while one request summarizes a group, a second one for the same group waits
    for that summary instead of computing it again, and answers from it (cache hit)."""
    with SQLiteStorage(tmp_path / "events.db") as store:  # a file: each reader has its own connection
        add(store, 12)
        summarizing = threading.Event()
        release = threading.Event()
        summaries: list[Any] = []

        class SlowReader:
            def __init__(self, inner: Any) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

            def summarize(self, *args: Any) -> Any:
                summaries.append(args)
                summarizing.set()
                assert release.wait(10)
                return self._inner.summarize(*args)

        class SlowStorage:
            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

            def reader(self) -> Any:
                @contextlib.contextmanager
                def wrapped() -> Iterator[Any]:
                    with store.reader() as inner:
                        yield SlowReader(inner)

                return wrapped()

        predictor = Predictor(SlowStorage(), clock=lambda: NOW)
        group = _Entering()
        exact = {"task_type": PROBE.task_type.value, "model": PROBE.model, "provider": PROBE.provider.value}
        exact["complexity"] = PROBE.complexity.value
        predictor._computing[tuple(sorted(exact.items()))] = group  # type: ignore[assignment]
        answers: dict[str, Any] = {}

        def ask(name: str) -> None:
            answers[name] = predictor.predict_batch([PROBE])[0]

        first = threading.Thread(target=ask, args=("first",))
        first.start()
        assert summarizing.wait(10)
        second = threading.Thread(target=ask, args=("second",))
        second.start()
        assert group.second_waits.wait(10)
        release.set()
        first.join(10)
        second.join(10)
    assert len(summaries) == 1
    assert answers["first"].metadata.cache_hit is False
    assert answers["second"].metadata.cache_hit is True
    assert answers["second"].prediction == answers["first"].prediction
