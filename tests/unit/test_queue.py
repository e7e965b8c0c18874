"""``EventQueue``: bounded by the producers' own evictions, every event counted once — under real threads."""

from __future__ import annotations

import threading

from mosaicstack_telemetry import EventBuilder
from mosaicstack_telemetry._queue import EventQueue
from tests.unit.fake_server import INSTANCE_ID

EVENT = EventBuilder(INSTANCE_ID).build()


def test_a_full_queue_evicts_the_oldest_and_counts_it() -> None:
    queue = EventQueue(max_size=3)
    events = [EventBuilder(INSTANCE_ID).build() for _ in range(5)]
    for event in events:
        queue.put(event)
    assert (5, 2, 3) == queue.counts()
    assert events[2:] == queue.drain(10)
    assert (5, 2, 0) == queue.counts()


def test_eight_producers_and_a_consumer_never_lose_count_nor_pass_the_bound() -> None:
    """8 threads put 20,000 events each into a 100-event queue while a consumer drains now and then: every event
    is taken, evicted or still waiting, and the queue never settles above its bound."""
    queue = EventQueue(max_size=100)
    append, waiting = queue.producer_calls()
    done = threading.Event()
    taken: list[int] = []
    largest: list[int] = []

    def producer() -> None:
        for _ in range(20_000):
            append(EVENT)  # as TelemetryClient.track does it
            if waiting() > queue.max_size:
                queue.evict_oldest()

    def consumer() -> None:
        while not done.is_set():
            largest.append(queue.size)
            taken.append(len(queue.drain(30)))

    threads = [threading.Thread(target=producer) for _ in range(8)]
    draining = threading.Thread(target=consumer)
    draining.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    draining.join()
    appended, evicted, size = queue.counts()
    assert 160_000 == appended
    assert 160_000 == sum(taken) + evicted + size
    assert size <= 100
    assert max(largest) <= 100 + 8  # at most one event over the bound per producer mid-put
    assert evicted > 0
