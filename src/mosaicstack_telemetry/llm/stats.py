"""Counters of the LLM instrumentation: what it reported, and what it did not report and why.

The client's own :class:`~mosaicstack_telemetry.ClientStats` counts events once ``track()`` has them; these count the
calls that never became events (``usage_unknown``: zeros would drag the crowd-sourced predictions down) and the
events that went out with a doubtful cost (``unpriced`` by model). They are process-wide and thread-safe (a lock
taken once per call, far from the per-chunk path).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = ["COUNTERS", "LlmStats", "SkipReason", "reset_stats", "stats"]


class SkipReason:
    """Why a call produced no event (the keys of :attr:`LlmStats.skipped`)."""

    #: the token counts are unknown (a stream that ended before its usage, a missing Ollama count)
    USAGE_UNKNOWN = "usage_unknown"
    #: the call was cancelled (``KeyboardInterrupt``, a cancelled task) before any usage was known
    CANCELLED = "cancelled"
    #: an unexpected error in the instrumentation itself (a bug: please report it); the call was not affected
    INTERNAL_ERROR = "internal_error"


@attrs.frozen(kw_only=True)
class LlmStats:
    """A snapshot of the instrumentation's counters (process-wide, since import or the last reset)."""

    #: calls the instrumentation saw finish
    calls: int
    #: events passed to ``track()`` (of which ``failures`` with outcome ``failure``)
    events: int
    failures: int
    #: calls that produced no event, by :class:`SkipReason`
    skipped: Mapping[str, int]
    #: events whose cost is 0 because the model has no known price, by model name
    unpriced: Mapping[str, int]
    #: events with a value clamped into the schema's range (tokens, cost, duration, model name length)
    clamped: int


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls = 0
            self._events = 0
            self._failures = 0
            self._clamped = 0
            self._skipped: Counter[str] = Counter()
            self._unpriced: Counter[str] = Counter()

    def event(self, *, failure: bool, clamped: bool) -> None:
        with self._lock:
            self._calls += 1
            self._events += 1
            self._failures += failure
            self._clamped += clamped

    def skipped(self, reason: str) -> None:
        with self._lock:
            self._calls += 1
            self._skipped[reason] += 1

    def unpriced(self, model: str) -> None:
        with self._lock:
            if model in self._unpriced or len(self._unpriced) < 1024:
                self._unpriced[model] += 1

    def snapshot(self) -> LlmStats:
        with self._lock:
            return LlmStats(
                calls=self._calls,
                events=self._events,
                failures=self._failures,
                skipped=MappingProxyType(dict(self._skipped)),
                unpriced=MappingProxyType(dict(self._unpriced)),
                clamped=self._clamped,
            )


COUNTERS = _Counters()


def stats() -> LlmStats:
    """A snapshot of the LLM instrumentation's counters."""
    return COUNTERS.snapshot()


def reset_stats() -> None:
    """Zero the counters (tests, or a periodic report)."""
    COUNTERS.reset()
