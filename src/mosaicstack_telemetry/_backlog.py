"""Where the batcher takes batches from: the in-memory queue, or the spool (``spool_path``).

The engine sees one interface, :class:`Backlog`; what differs is where unsent events live between ``track()`` and
the server's answer::

    memory:  track() ── EventQueue ─────────────────────────────── take ─► POST ─► (settled: nothing to do)
    spool:   track() ── EventQueue ── writer: append (≤ 1 commit) ── Spool file ── take ─► POST ─► settle: delete rows

With a spool, the in-memory queue is only the intake: the writer empties it into the file as fast as one commit
follows another, so memory stays bounded by ``max_queue_size`` while the file holds the backlog (up to
``spool_max_bytes``). Settling a batch records what it came to (a :class:`.Tally`) where its events were: in the
client's counters for memory, in the spool's own tally, in the same step as its rows are deleted, for the file.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread

from . import _wire
from ._batch import Batch, MemoryBatch, SpooledBatch
from ._spool import Spool

if TYPE_CHECKING:
    from ._accounting import Tally
    from ._queue import EventQueue
    from .events import TaskCompletionEvent

__all__ = ["WRITE_CHUNK", "Backlog", "MemoryBacklog", "SpoolBacklog"]

logger = logging.getLogger("mosaicstack_telemetry")

#: Most events one spool write takes from the intake: a commit of a few milliseconds, so that the batches' reads and
#: deletes, which wait for the same worker thread, are never held up for long behind a burst.
WRITE_CHUNK = 1000


class Backlog(Protocol):
    """What the batcher and the submitters need from the place unsent events wait in."""

    @property
    def is_empty(self) -> bool: ...

    @property
    def waiting(self) -> int:
        """Events that could be taken now (not in flight)."""

    async def take(self, max_items: int) -> Batch:
        """Up to ``max_items`` of the oldest waiting events, now in flight (an empty batch when none wait)."""

    def put_back(self, batch: Batch) -> int:
        """A send failed: the batch waits again, first in line. Returns how many events found no room (dropped)."""

    async def settle(self, batch: Batch, outcome: Tally) -> None:
        """The server answered for the batch, or it was dropped for good: forget it, and record ``outcome`` (where
        its events went) at the same instant."""


class MemoryBacklog:
    """The default: events wait in the in-memory queue, and are gone from it once taken."""

    def __init__(self, queue: EventQueue, settled: Tally) -> None:
        self._queue = queue
        self._settled = settled

    @property
    def is_empty(self) -> bool:
        return self._queue.is_empty

    @property
    def waiting(self) -> int:
        return self._queue.waiting

    async def take(self, max_items: int) -> MemoryBatch:
        return MemoryBatch(self._queue.drain(max_items))

    def put_back(self, batch: Batch) -> int:
        assert isinstance(batch, MemoryBatch)  # noqa: S101 - only its own batches come back
        return self._queue.put_back(batch.events)

    async def settle(self, batch: Batch, outcome: Tally) -> None:
        self._settled.add(outcome)


class SpoolBacklog:
    """Events wait in the spool file; the intake queue is emptied into it by :meth:`write_intake`.

    Every file operation runs on a worker thread, one at a time, shielded from cancellation: a write, take or
    delete either happens whole or not at all, so the counters always describe the file.
    """

    def __init__(self, spool: Spool, intake: EventQueue) -> None:
        self.spool = spool
        self._intake = intake
        self._limiter = anyio.CapacityLimiter(1)

    async def _run(self, func: Any, *args: Any) -> Any:
        with anyio.CancelScope(shield=True):
            return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    async def adopt_orphans(self) -> int:
        """Adopt the spools of dead processes (before this process writes anything: they are replayed first)."""
        adopted: int = await self._run(self.spool.adopt_orphans)
        return adopted

    async def write_intake(self) -> int:
        """Move up to :data:`WRITE_CHUNK` events from the intake queue into the spool (one commit); returns how many
        moved (the writer calls again while the intake is not empty).

        The queue is drained on the worker thread, so an event is either still queued or in the file, never
        between the two when a cancellation or a crash of the loop comes.
        """
        moved: int = await self._run(self._write_intake_now)
        return moved

    def _write_intake_now(self) -> int:
        events = self.spool.receive(lambda: self._intake.drain(WRITE_CHUNK))
        self.spool.append(_encode_all(self.spool, events))
        return len(events)

    @property
    def is_empty(self) -> bool:
        return self.spool.waiting <= 0

    @property
    def waiting(self) -> int:
        return self.spool.waiting

    async def take(self, max_items: int) -> SpooledBatch:
        batch: SpooledBatch = await self._run(self.spool.take, max_items)
        return batch

    def put_back(self, batch: Batch) -> int:
        assert isinstance(batch, SpooledBatch)  # noqa: S101 - only spooled batches come here
        self.spool.release(batch)
        return 0

    async def settle(self, batch: Batch, outcome: Tally) -> None:
        await self._run(self.spool.settle, batch, outcome)


def _encode_all(spool: Spool, events: list[TaskCompletionEvent]) -> list[bytes]:
    """Each event's JSON. One that cannot be encoded (a bug: events are validated) is counted with the spool's write
    failures and logged, not stored: a body the server cannot read would make it refuse the whole batch."""
    try:
        return _wire.dumps_each(events)
    except Exception:
        bodies = []
        for event in events:
            try:
                bodies.append(_wire.dumps(event))
            except Exception:
                spool.count_unwritable(1)
                logger.exception("mosaicstack-telemetry: could not encode an event for the spool; dropped")
        return bodies
