"""Batches: the events taken together for one ``POST /v1/events/batch``, each able to give its request body.

A batch is tracked by identity (two batches never hold the same events), so the engine keeps the unsettled ones in
a set. :class:`MemoryBatch` holds events from the in-memory queue; :class:`SpooledBatch` holds the JSON the spool
stored for each event and the rows it came from, and is sent as stored — never decoded, never re-encoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from . import _wire
from .batch import BatchEventRequest
from .events import TaskCompletionEvent

__all__ = ["Batch", "MemoryBatch", "SpooledBatch"]


class Batch(Protocol):
    """What the submitters need of a batch."""

    def __len__(self) -> int: ...

    def request_body(self) -> bytes:
        """The JSON body of ``POST /v1/events/batch`` for these events."""
        ...


class MemoryBatch:
    """Events taken from the in-memory queue."""

    __slots__ = ("events",)

    def __init__(self, events: Sequence[TaskCompletionEvent]) -> None:
        self.events = events

    def __len__(self) -> int:
        return len(self.events)

    def request_body(self) -> bytes:
        return _wire.dumps(BatchEventRequest(events=list(self.events)))


class SpooledBatch:
    """Rows taken from the spool: each event's stored JSON, and the row keys to delete once settled."""

    __slots__ = ("bodies", "seqs")

    def __init__(self, rows: Iterable[tuple[int, bytes]] = ()) -> None:
        rows = list(rows)
        self.seqs = [seq for seq, _ in rows]
        self.bodies = [body for _, body in rows]

    def __len__(self) -> int:
        return len(self.bodies)

    def request_body(self) -> bytes:
        return b'{"events":[' + b",".join(self.bodies) + b"]}"

    @property
    def size(self) -> int:
        """Bytes of event JSON in the batch (what the spool's byte bound counts)."""
        return sum(map(len, self.bodies))
