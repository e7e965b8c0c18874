"""Counters: where every event that ``track()`` accepted ended up (design.md "accounting").

At quiet points (after ``flush``/``stop``, or in one snapshot) every tracked event is in exactly one place::

    tracked + recovered == sent + rejected + dropped_total + queued + in_flight

(``recovered`` counts the events adopted from the spools of dead processes: tracked there, settled here.)

``track()`` stays lock-free: it only appends to the queue (which counts appends with one atomic C call) or, on its
rare drop paths, bumps a per-reason atomic counter. Queue overflow is derived by the queue, not counted per event.
Everything else is counted on the client's event loop, one thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from ._queue import EventQueue, _Counter
from ._spool import Spool

__all__ = ["ClientStats", "DropReason"]


class DropReason:
    """Why events were dropped (the keys of :attr:`ClientStats.dropped`)."""

    #: the queue was full: the oldest events were evicted (or could not be re-queued after a failed send)
    OVERFLOW = "overflow"
    #: telemetry is disabled (``enabled=False`` or ``MOSAIC_TELEMETRY_ENABLED``)
    DISABLED = "disabled"
    #: ``server_url`` is missing or not http(s): there is nowhere to send to
    INVALID_CONFIG = "invalid_config"
    #: ``track()`` was given something that is not a ``TaskCompletionEvent``
    INVALID_EVENT = "invalid_event"
    #: the server refused the batch in a way retrying cannot fix (400, 401, 403, 404, 413, 422, …)
    NON_RETRYABLE = "non_retryable"
    #: the surrounding scope was cancelled and the shielded best-effort flush could not send them
    CANCELLED = "cancelled"
    #: still queued when the interpreter exited (the client was never stopped, or the server was down)
    EXIT = "exit"
    #: an unexpected internal error in ``track()`` (a bug: please report it)
    INTERNAL_ERROR = "internal_error"
    #: the spool reached ``spool_max_bytes``: its oldest unsent events were deleted
    SPOOL_FULL = "spool_full"
    #: the spool could not store them (disk full, I/O error): they were lost between memory and disk
    SPOOL_ERROR = "spool_error"
    #: ``before_send`` returned ``None`` for them
    FILTERED = "filtered"


#: Drop reasons counted from ``track()`` (any thread): each gets an atomic counter.
_TRACK_SIDE = (
    DropReason.DISABLED,
    DropReason.INVALID_CONFIG,
    DropReason.INVALID_EVENT,
    DropReason.INTERNAL_ERROR,
    DropReason.FILTERED,
)


@attrs.frozen(kw_only=True)
class ClientStats:
    """A snapshot of the client's counters."""

    #: events passed to ``track()``
    tracked: int
    #: delivered: accepted by the server, reported as duplicates (already delivered), or counted by ``dry_run``
    sent: int
    #: rejected by the server, event by event (never re-sent)
    rejected: int
    #: dropped, by reason (:class:`DropReason`)
    dropped: Mapping[str, int]
    #: attempts that were retries of a failed request
    retried: int
    #: send cycles that failed (the batch was re-queued) or were refused for good
    failed_batches: int
    #: waiting: in the in-memory queue, or in the spool
    queued: int
    #: taken from the queue, not yet settled
    in_flight: int
    #: prediction responses fetched into the cache
    predictions_fetched: int = 0
    #: prediction requests that failed (each retry counted; the cache kept what it had)
    prediction_failures: int = 0
    #: events adopted from the spools of processes that ended before sending them (tracked there, settled here)
    recovered: int = 0
    #: of ``sent``, those the server already held (answered ``duplicate``): a replay after a cut reply, or an event
    #: sent twice. A subset of ``sent``, so not a term of the accounting identity.
    duplicates: int = 0

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def balanced(self) -> bool:
        """Whether every tracked event is accounted for (true at quiet points)."""
        settled = self.sent + self.rejected + self.dropped_total + self.queued + self.in_flight
        return self.tracked + self.recovered == settled


class Accounting:
    """The live counters behind :class:`ClientStats` (one per client, surviving restarts)."""

    def __init__(self, queue: EventQueue) -> None:
        self.queue = queue
        self.spool: Spool | None = None
        self.track_drops = {reason: _Counter() for reason in _TRACK_SIDE}
        self.loop_drops: Counter[str] = Counter()
        self.sent = 0
        self.duplicates = 0
        self.rejected = 0
        self.retried = 0
        self.failed_batches = 0
        self.in_flight = 0
        self.predictions_fetched = 0
        self.prediction_failures = 0

    def drop_from_track(self, reason: str) -> None:
        """Count one event ``track()`` dropped (any thread)."""
        self.track_drops[reason].increment()

    def snapshot(self) -> ClientStats:
        spool = self.spool
        in_flight = self.in_flight
        if spool is not None and spool.is_open:  # the spool holds what is waiting and in flight
            (appended, evicted, queued), spooled, in_flight = spool.snapshot(self.queue.counts)
            queued += spooled
        else:
            appended, evicted, queued = self.queue.counts()
        track_drops = {reason: counter.value for reason, counter in self.track_drops.items()}  # each read once
        dropped = Counter(self.loop_drops) + Counter(track_drops)
        dropped[DropReason.OVERFLOW] += evicted + self.queue.put_back_dropped
        tracked = appended + sum(track_drops.values())
        recovered = 0
        if spool is not None:
            dropped[DropReason.SPOOL_FULL] += spool.evicted
            dropped[DropReason.SPOOL_ERROR] += spool.write_failures
            recovered = spool.adopted
        return ClientStats(
            tracked=tracked,
            sent=self.sent,
            duplicates=self.duplicates,
            rejected=self.rejected,
            dropped=MappingProxyType({k: v for k, v in sorted(dropped.items()) if v}),
            retried=self.retried,
            failed_batches=self.failed_batches,
            queued=queued,
            in_flight=in_flight,
            predictions_fetched=self.predictions_fetched,
            prediction_failures=self.prediction_failures,
            recovered=recovered,
        )
