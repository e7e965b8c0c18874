"""``PredictionCache``: fetched predictions, readable from any thread without touching the event loop."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import attrs

from .predictions import PredictionQuery, PredictionResponse

__all__ = ["PredictionCache"]


@attrs.define
class _Entry:
    response: PredictionResponse
    expires_at: float
    #: last ``get`` of this query (``None``: never read): only queries read within the TTL are kept fresh
    last_read: float | None


class PredictionCache:
    """Thread-safe TTL cache of :class:`PredictionResponse` by :class:`PredictionQuery`.

    Every operation is O(1) (amortized) under one lock. An expired entry is a miss and is evicted; entries are kept
    in expiry order (one TTL for all), so each ``put`` also evicts whatever expired at the front: the cache cannot
    grow without bound even if nobody reads it.

    :param ttl_seconds: how long an entry stays readable after it was stored.
    :param clock: monotonic clock in seconds (injectable for tests; not the event loop's clock: this cache is read
        from any thread).
    """

    def __init__(self, ttl_seconds: float = 21600.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(ttl_seconds, (int, float)) or isinstance(ttl_seconds, bool) or not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds={ttl_seconds!r} must be a positive number")
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[PredictionQuery, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: PredictionQuery) -> PredictionResponse | None:
        """The cached response, or ``None`` if absent or expired (an expired entry is evicted)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(query)
            if entry is None:
                return None
            if now >= entry.expires_at:
                del self._entries[query]
                return None
            entry.last_read = now
            return entry.response

    def put(self, query: PredictionQuery, response: PredictionResponse) -> None:
        """Store a response for ``ttl_seconds`` (a replaced entry keeps its last read time)."""
        now = self._clock()
        with self._lock:
            previous = self._entries.pop(query, None)
            last_read = previous.last_read if previous is not None else None
            self._entries[query] = _Entry(response, now + self.ttl_seconds, last_read)
            self._evict_expired(now)

    def clear(self) -> None:
        """Invalidate every entry."""
        with self._lock:
            self._entries.clear()

    @property
    def size(self) -> int:
        """Number of entries (including ones expired but not yet evicted)."""
        return len(self._entries)

    def __len__(self) -> int:
        return self.size

    # -- for the refresher --------------------------------------------------------------------------------------------

    def due_for_refresh(self, margin: float) -> list[PredictionQuery]:
        """Queries expiring within ``margin`` seconds that were read within the last TTL."""
        now = self._clock()
        with self._lock:
            self._evict_expired(now)
            return [
                query
                for query, entry in self._entries.items()
                if entry.expires_at - now <= margin and self._recently_read(entry, now)
            ]

    def seconds_until_refresh(self, margin: float) -> float:
        """How long the refresher may sleep before it looks again (``inf`` while the cache is empty).

        Until the first entry comes within ``margin`` of expiring; once it has, ``margin / 2``: an entry in its
        refresh window may still be read (reads come from any thread and never wake the loop).
        """
        now = self._clock()
        with self._lock:
            if not self._entries:
                return math.inf
            first = next(iter(self._entries.values()))  # expiry order
            until_window = first.expires_at - margin - now
        return until_window if until_window > 0 else margin / 2

    def _recently_read(self, entry: _Entry, now: float) -> bool:
        return entry.last_read is not None and now - entry.last_read <= self.ttl_seconds

    def _evict_expired(self, now: float) -> None:
        entries = self._entries
        while entries:
            first = next(iter(entries.values()))
            if first.expires_at > now:
                return
            entries.popitem(last=False)
