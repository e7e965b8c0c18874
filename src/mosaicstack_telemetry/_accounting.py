"""The live counters behind :class:`~mosaicstack_telemetry.ClientStats`: where every event ``track()`` accepted went.

``track()`` stays lock-free: it only appends to the queue or, on its rare drop paths, bumps a per-reason atomic
counter. Queue overflow is counted by the queue. Everything else is counted on the client's event loop — except,
with a spool, what a settled batch came to: the spool tallies it under the lock its snapshot takes, in the same
step as it deletes the rows (:meth:`.Spool.settle`), so a snapshot never sees an event in two places or in none.
"""

from __future__ import annotations

import logging
from collections import Counter
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from ._queue import EventQueue, _Counter
from .stats import ClientStats, DropReason

if TYPE_CHECKING:
    from ._spool import Spool

__all__ = ["Accounting", "Tally"]

logger = logging.getLogger("mosaicstack_telemetry")

#: Drop reasons counted from ``track()`` (any thread): each gets an atomic counter.
_TRACK_SIDE = (
    DropReason.DISABLED,
    DropReason.INVALID_CONFIG,
    DropReason.INVALID_EVENT,
    DropReason.INTERNAL_ERROR,
    DropReason.FILTERED,
)


@attrs.define
class Tally:
    """What settled batches came to: the outcome of one batch, or the running sum of many."""

    #: delivered (accepted, duplicates, dry run)
    sent: int = 0
    #: of ``sent``, those the server already held
    duplicates: int = 0
    #: rejected by the server, event by event
    rejected: int = 0
    #: refused for good with the whole batch (a 4xx that retrying cannot fix): dropped, ``non_retryable``
    refused: int = 0

    def add(self, other: Tally) -> None:
        self.sent += other.sent
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.refused += other.refused


class Accounting:
    """The live counters of one client, surviving restarts."""

    def __init__(self, queue: EventQueue) -> None:
        self.queue = queue
        self.spool: Spool | None = None
        self.track_drops = {reason: _Counter() for reason in _TRACK_SIDE}
        self.loop_drops: Counter[str] = Counter()
        #: batches settled from memory (a spool keeps the tally of those settled from its file)
        self.settled = Tally()
        self.retried = 0
        self.failed_batches = 0
        self.in_flight = 0
        self.predictions_fetched = 0
        self.prediction_failures = 0

    def drop_from_track(self, reason: str) -> None:
        """Count one event ``track()`` dropped (any thread)."""
        self.track_drops[reason].increment()

    def drop_queued(self, reason: str) -> None:
        """Empty the in-memory queue, counting what it held as dropped for ``reason`` (cancelled, exit)."""
        dropped = 0
        while not self.queue.is_empty:
            dropped += len(self.queue.drain(self.queue.max_size))
        if dropped:
            self.loop_drops[reason] += dropped
            logger.warning("mosaicstack-telemetry: %d unsent events dropped (%s)", dropped, reason)

    def snapshot(self) -> ClientStats:
        spool = self.spool
        in_flight = self.in_flight
        settled = attrs.evolve(self.settled)
        if spool is not None and spool.is_open:  # the spool holds what is waiting and in flight
            (appended, evicted, queued), spooled, in_flight, from_file = spool.snapshot(self.queue.counts)
            queued += spooled
            settled.add(from_file)
        else:
            appended, evicted, queued = self.queue.counts()
            if spool is not None:
                settled.add(spool.settled)
        track_drops = {reason: counter.value for reason, counter in self.track_drops.items()}  # each read once
        dropped = Counter(self.loop_drops) + Counter(track_drops)
        dropped[DropReason.OVERFLOW] += evicted + self.queue.put_back_dropped
        dropped[DropReason.NON_RETRYABLE] += settled.refused
        tracked = appended + sum(track_drops.values())
        recovered = 0
        if spool is not None:
            dropped[DropReason.SPOOL_FULL] += spool.evicted
            dropped[DropReason.SPOOL_ERROR] += spool.write_failures
            recovered = spool.adopted
        return ClientStats(
            tracked=tracked,
            sent=settled.sent,
            duplicates=settled.duplicates,
            rejected=settled.rejected,
            dropped=MappingProxyType({k: v for k, v in sorted(dropped.items()) if v}),
            retried=self.retried,
            failed_batches=self.failed_batches,
            queued=queued,
            in_flight=in_flight,
            predictions_fetched=self.predictions_fetched,
            prediction_failures=self.prediction_failures,
            recovered=recovered,
        )
