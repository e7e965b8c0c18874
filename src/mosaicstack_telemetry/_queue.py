"""``EventQueue``: the bounded buffer between ``track()`` and the batcher.

``put`` is the only operation producers call, from any thread; it never blocks and takes no lock. The producer whose
append takes the queue past ``max_size`` evicts the oldest waiting event itself and counts that eviction;
``appended`` is derived (``taken + evicted + waiting``), exact at quiet points. The queue never holds more than
``max_size`` events plus one per producer in the middle of its ``put``.

The consumer side (``drain``, ``put_back``) runs in one place at a time and takes a lock only against other
consumers. Events put back after a failed send wait in a front deque of their own, as far as free room allows: the
queue keeps the newest, so re-queued (older) events that do not fit are dropped and counted.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable

from .events import TaskCompletionEvent

__all__ = ["EventQueue"]


class _Counter:
    """A thread-safe, lock-free counter for hot paths: ``itertools.count.__next__`` is one atomic C call.

    Reading must not disturb it, and ``count`` offers no read (its pickle support, which exposed one, is going
    away in 3.14): a read takes the next number too and remembers how many reads there were. Reads are rare
    (stats) and serialized by a lock; increments never take it.
    """

    __slots__ = ("_count", "_read_lock", "_reads", "increment")

    def __init__(self) -> None:
        self._count = itertools.count()
        self.increment = self._count.__next__
        self._reads = 0
        self._read_lock = threading.Lock()

    @property
    def value(self) -> int:
        """The number of increments so far."""
        with self._read_lock:
            drawn = next(self._count)  # = increments + earlier reads
            value = drawn - self._reads
            self._reads += 1
            return value


class EventQueue:
    """Thread-safe bounded FIFO queue of events; when full, the oldest event is evicted.

    :param max_size: most events held (put-back events included).
    """

    def __init__(self, max_size: int = 1000) -> None:
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
            raise ValueError(f"max_size={max_size!r} must be a positive integer")
        self.max_size = max_size
        self._waiting: deque[TaskCompletionEvent] = deque()  # bounded by put's eviction (see the module's doc)
        self._front: deque[TaskCompletionEvent] = deque()
        self._consumer_lock = threading.Lock()
        self._evicted = _Counter()
        self._taken = 0
        self._put_back_dropped = 0

    def put(self, event: TaskCompletionEvent) -> None:
        """Add an event; if the queue is full, the oldest waiting event is evicted. Never blocks."""
        self._waiting.append(event)
        if len(self._waiting) > self.max_size:
            self.evict_oldest()

    def evict_oldest(self) -> None:
        """Evict (and count) the oldest waiting event — for the producer whose append took the queue past
        ``max_size``. Any thread; never blocks."""
        waiting = self._waiting
        if len(waiting) <= self.max_size:
            return  # a consumer made room meanwhile
        try:
            waiting.popleft()
        except IndexError:  # a consumer emptied it meanwhile
            return
        self._evicted.increment()

    def producer_calls(self) -> tuple[Callable[[TaskCompletionEvent], None], Callable[[], int]]:
        """:meth:`put`'s append and the waiting length as bound C methods, for a caller on a hot path.

        ``append(event)``, then :meth:`evict_oldest` when ``waiting()`` exceeds ``max_size``, is exactly :meth:`put`
        without the Python-level call (``TelemetryClient.track`` makes them directly); ``waiting()`` is
        :attr:`waiting`.
        """
        return self._waiting.append, self._waiting.__len__

    def drain(self, max_items: int) -> list[TaskCompletionEvent]:
        """Remove and return up to ``max_items`` events, oldest (and put-back) first."""
        batch: list[TaskCompletionEvent] = []
        with self._consumer_lock:
            front, waiting = self._front, self._waiting
            while front and len(batch) < max_items:
                batch.append(front.popleft())
            taken = 0
            try:
                while len(batch) < max_items:
                    batch.append(waiting.popleft())
                    taken += 1
            except IndexError:
                pass
            self._taken += taken
        return batch

    def put_back(self, events: Iterable[TaskCompletionEvent]) -> int:
        """Re-queue events at the front (for a retry), as far as free capacity allows.

        The queue keeps the newest: when not all fit, the oldest of ``events`` are dropped. Returns how many were
        dropped (also counted in :attr:`put_back_dropped`).
        """
        returned = list(events)
        with self._consumer_lock:
            free = max(0, self.max_size - len(self._front) - len(self._waiting))
            kept = returned[len(returned) - free :] if free < len(returned) else returned
            self._front.extendleft(reversed(kept))
            dropped = len(returned) - len(kept)
            self._put_back_dropped += dropped
        return dropped

    @property
    def size(self) -> int:
        """Current number of queued events."""
        return len(self._front) + len(self._waiting)

    @property
    def is_empty(self) -> bool:
        """Whether no event is queued."""
        return not self._front and not self._waiting

    def __len__(self) -> int:
        return self.size

    @property
    def waiting(self) -> int:
        """Events put and not yet drained (excludes put-back ones): what decides a full batch."""
        return len(self._waiting)

    @property
    def appended(self) -> int:
        """Events ever passed to :meth:`put` (derived; exact when no ``put`` or ``drain`` is in progress)."""
        return self.counts()[0]

    @property
    def evicted(self) -> int:
        """Events evicted because the queue was full."""
        return self._evicted.value

    def counts(self) -> tuple[int, int, int]:
        """``(appended, evicted, size)``, each read once, so a snapshot's figures agree with one another."""
        with self._consumer_lock:  # no drain half-counted
            taken = self._taken
            waiting = len(self._waiting)
            front = len(self._front)
        evicted = self._evicted.value
        return taken + evicted + waiting, evicted, waiting + front

    @property
    def put_back_dropped(self) -> int:
        """Events :meth:`put_back` could not re-queue for lack of room."""
        return self._put_back_dropped
