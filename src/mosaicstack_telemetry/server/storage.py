"""Where the reference server keeps API keys and events: the small :class:`Storage` interface its backends implement.

The HTTP layer (:mod:`.app`) and the prediction logic (:mod:`.predictions`) only talk to :class:`Storage` and
:class:`StorageReader`, whichever backend holds the data. The interface is blocking on
purpose — stdlib :mod:`sqlite3` and psycopg are — and the HTTP layer calls it on worker threads
(``anyio.to_thread.run_sync``), never on the event loop.

**Tenant isolation.** An event is identified by ``(instance_id, event_id)``: an instance's duplicate is its own event
id stored before; another instance's event with the same id is a different event, stored. Every per-event read
(:meth:`Storage.fetch_event`) takes the instance. Predictions read across instances on purpose: they are
crowd-sourced. The schema is built and upgraded by :mod:`.migrations` (:mod:`.pg_migrations`) when the storage
opens; the events table's columns come from the model (:mod:`.columns`).

The backends are :class:`~.sqlite.SQLiteStorage` (also importable from here) and
:class:`~.postgres.PostgresStorage`; :func:`~.backends.open_storage` opens the one a URL or path names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol
from uuid import UUID

import attrs

from ..events import TaskCompletionEvent
from .stats_queries import StatsQueries

__all__ = [
    "DIMENSIONS",
    "METRICS",
    "Dimensions",
    "GroupSummary",
    "KeyRecord",
    "SQLiteStorage",
    "Storage",
    "StorageReader",
]

#: The columns a prediction query can match on, by name (the :class:`~mosaicstack_telemetry.PredictionQuery` fields).
DIMENSIONS = ("task_type", "model", "provider", "complexity")
#: The columns whose order statistics (percentiles) a prediction needs.
METRICS = (
    "actual_input_tokens",
    "actual_output_tokens",
    "actual_cost_usd_micros",
    "task_duration_ms",
)

#: Column name → value to match, keys among :data:`DIMENSIONS`.
Dimensions = Mapping[str, str]


@attrs.frozen
class KeyRecord:
    """A stored API key: only its SHA-256 is kept, never the key."""

    key_sha256: str
    instance_id: UUID
    label: str | None
    created_at: datetime
    #: when the key last authenticated a request (recorded at most once a minute per key), ``None`` if never
    last_used_at: datetime | None = None
    #: when it was revoked; a revoked key is refused (403)
    revoked_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """The first 8 hex digits of the stored hash: names a key in lists and ``keys revoke``, reveals nothing."""
        return self.key_sha256[:8]

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@attrs.frozen
class GroupSummary:
    """What a prediction needs to know about the events matching some dimensions, read in one snapshot.

    ``order_statistics[metric][rank]`` is the ``rank``-th smallest value (1-based) of ``metric`` in the group: the
    caller chooses the ranks, so the percentile method lives in one place (:mod:`.predictions`), not in each backend.
    The token sums cover only events whose estimate is above zero (the correction factors' population).
    """

    sample_size: int
    order_statistics: Mapping[str, Mapping[int, int]]
    gate_passed: int
    succeeded: int
    actual_input_sum: int
    estimated_input_sum: int
    actual_output_sum: int
    estimated_output_sum: int


class StorageReader(Protocol):
    """Reads inside one snapshot (:meth:`Storage.reader`): counts and summaries stay consistent with each other."""

    def version(self) -> int:
        """A number that grows whenever events are added (caches of summaries compare it)."""
        ...

    def count(self, dimensions: Dimensions) -> int:
        """How many events match ``dimensions`` (all events when empty)."""
        ...

    def summarize(self, dimensions: Dimensions, ranks: Mapping[str, Sequence[int]]) -> GroupSummary:
        """Summarize the events matching ``dimensions``; ``ranks`` maps a metric to the 1-based ranks wanted."""
        ...


class Storage(Protocol):
    """The server's persistence, blocking and thread-safe: call it from worker threads, not from the event loop."""

    def add_key(self, key_sha256: str, instance_id: UUID, label: str | None = None) -> None:
        """Store a key's SHA-256 (hex) bound to ``instance_id``."""
        ...

    def find_key(self, key_sha256: str) -> KeyRecord | None:
        """The key whose SHA-256 (hex) is ``key_sha256``, if any (revoked keys too: the caller checks)."""
        ...

    def list_keys(self) -> list[KeyRecord]:
        """Every key, revoked ones too, oldest first."""
        ...

    def revoke_keys(self, key_sha256s: Sequence[str], revoked_at: datetime) -> int:
        """Revoke these keys (those already revoked keep their time); how many were revoked now."""
        ...

    def touch_key(self, key_sha256: str, used_at: datetime) -> None:
        """Record that the key authenticated a request at ``used_at`` (the caller throttles: see :mod:`.keys`)."""
        ...

    def insert_events(self, events: Sequence[TaskCompletionEvent], received_at: datetime) -> list[bool]:
        """Store events atomically; per event, ``True`` if stored, ``False`` if its instance already stored its
        ``event_id`` (ids are unique per instance: another instance's event with the same id is stored).

        A repeat inside ``events`` is a duplicate of its first occurrence.
        """
        ...

    def reader(self) -> AbstractContextManager[StorageReader]:
        """A read snapshot for a series of counts and summaries."""
        ...

    def stats(self) -> AbstractContextManager[StatsQueries]:
        """A read snapshot for the dashboard's statistics, instance-scoped and aggregated in SQL
        (:class:`~.stats_queries.StatsQueries`, over the backend's connection and :class:`~.stats_queries.Dialect`)."""
        ...

    def count_events(self, instance_id: UUID | None = None) -> int:
        """How many events are stored: those of ``instance_id``, or of every instance when ``None``."""
        ...

    def fetch_event(self, instance_id: UUID, event_id: UUID) -> TaskCompletionEvent | None:
        """Instance ``instance_id``'s event with this id, rebuilt as a model (for tests and inspection)."""
        ...

    def close(self) -> None:
        """Release connections; further calls raise."""
        ...


from .sqlite import SQLiteStorage  # noqa: E402 - the backend, importable from here too; it imports the above
