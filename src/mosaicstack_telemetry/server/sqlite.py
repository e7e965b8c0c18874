"""The SQLite backend of :class:`~.storage.Storage`: :class:`SQLiteStorage` (stdlib :mod:`sqlite3`).

SQLite, as :class:`SQLiteStorage` uses it:

* **One writer.** Every write goes through one connection, serialized by a :class:`threading.Lock`, in an explicit
  ``BEGIN IMMEDIATE`` transaction. Concurrent requests queue on the lock instead of racing for SQLite's file lock, so
  "database is locked" cannot happen between our own requests (``busy_timeout`` still covers other processes, such as
  a CLI creating a key while the server runs).
* **A file** runs in WAL mode (``synchronous=NORMAL``: a crash of the process loses nothing, a power cut may lose the
  last transactions — fine for a reference server). Readers use their own connections from a small pool, each read
  in one transaction, so a prediction batch sees one consistent snapshot and never blocks the writer.
* **In memory** (``path=None``, the default, for tests) is one private ``:memory:`` connection used for reads and
  writes alike, under the same lock. SQLite's shared-cache mode would allow separate reader connections, but it uses
  table locks that fail at once with ``SQLITE_LOCKED`` instead of waiting, which is exactly the error we avoid.

Every accepted event is kept, one column per field. The index ``events_by_dimensions`` starts with
``(task_type, provider, model, complexity)``, in that order so that each prediction fallback level
(:data:`.predictions.FALLBACK_LEVELS`) is a prefix of it, and goes on with every column a prediction reads: counts
and summaries read index entries only, never table rows. Percentile ranks are selected in SQL
(:meth:`StorageReader.summarize`): Python receives a handful of values per group, not the group's rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from ..events import TaskCompletionEvent
from ._sql import SELECT_KEYS, check_metrics, group_summary, key_record, matched_dimensions
from .columns import COLUMN_NAMES, EVENT_COLUMNS, Kind, event_from_values, event_values
from .migrations import migrate
from .stats_queries import SQLITE, StatsQueries
from .storage import Dimensions, GroupSummary, KeyRecord, StorageReader

__all__ = ["SQLiteStorage"]

_COLUMN_LIST = ", ".join(COLUMN_NAMES)
_PLACEHOLDERS = ", ".join("?" for _ in COLUMN_NAMES)
_INSERT = f"INSERT INTO events ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS}) ON CONFLICT DO NOTHING"  # noqa: S608

_AGGREGATES = (
    "SELECT count(*), coalesce(sum(quality_gate_passed), 0), coalesce(sum(outcome = 'success'), 0),"
    " coalesce(sum(CASE WHEN estimated_input_tokens > 0 THEN actual_input_tokens END), 0),"
    " coalesce(sum(CASE WHEN estimated_input_tokens > 0 THEN estimated_input_tokens END), 0),"
    " coalesce(sum(CASE WHEN estimated_output_tokens > 0 THEN actual_output_tokens END), 0),"
    " coalesce(sum(CASE WHEN estimated_output_tokens > 0 THEN estimated_output_tokens END), 0)"
    " FROM events"
)

#: Seconds a connection waits for another *process* holding the database lock.
_BUSY_TIMEOUT_SECONDS = 10.0
#: Idle reader connections kept for reuse (file databases).
_READER_POOL_SIZE = 8


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _key_record(row: tuple[Any, ...]) -> KeyRecord:
    """A key from its stored row: the instance as text, the times as ISO 8601 text."""
    return key_record((row[0], UUID(row[1]), row[2], *(_moment(text) for text in row[3:])))


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only (0600) unless it exists: it holds every event and the
    keys' hashes. SQLite gives the ``-wal`` and ``-shm`` files it creates the database file's permissions. Any
    other failure (a missing directory) is left for :func:`sqlite3.connect` to report as it always does."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))


def _stored(kind: Kind, value: Any) -> Any:
    """A column value as this backend stores it: UUIDs and timestamps as text, gate lists as JSON text."""
    if value is None:
        return None
    if kind is Kind.UUID:
        return str(value)
    if kind is Kind.TIMESTAMP:
        return value.isoformat()
    if kind is Kind.BOOLEAN:
        return int(value)
    if kind is Kind.GATES:
        return json.dumps(value)
    return value


def _loaded(kind: Kind, value: Any) -> Any:
    """A stored value as :func:`~.columns.event_from_values` takes it (text UUIDs and timestamps are read there)."""
    if kind is Kind.BOOLEAN:
        return bool(value)
    if kind is Kind.GATES:
        return json.loads(value)
    return value


def _row(event: TaskCompletionEvent, received_at: datetime) -> tuple[Any, ...]:
    values = event_values(event, received_at)
    return tuple(_stored(column.kind, value) for column, value in zip(EVENT_COLUMNS, values, strict=True))


def _where(dimensions: Dimensions) -> tuple[str, list[str]]:
    """A ``WHERE`` clause over known column names only (values are bound, names checked: no injection)."""
    names = matched_dimensions(dimensions)
    if not names:
        return "", []
    return " WHERE " + " AND ".join(f"{name} = ?" for name in names), [dimensions[name] for name in names]


class _SQLiteReader:
    """:class:`StorageReader` over one connection inside an open transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def count(self, dimensions: Dimensions) -> int:
        where, params = _where(dimensions)
        sql = f"SELECT count(*) FROM events{where}"  # noqa: S608 - names from DIMENSIONS only
        (count,) = self._connection.execute(sql, params).fetchone()
        return int(count)

    def version(self) -> int:
        # Events are never deleted or updated: the highest rowid grows with every insert, from any connection.
        (version,) = self._connection.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        return int(version)

    def summarize(self, dimensions: Dimensions, ranks: Mapping[str, Sequence[int]]) -> GroupSummary:
        check_metrics(ranks)
        where, params = _where(dimensions)
        return group_summary(
            ranks,
            self._connection.execute(_AGGREGATES + where, params).fetchone(),
            lambda wanted, into: self._order_statistics(where, params, wanted, into),
        )

    def _order_statistics(
        self,
        where: str,
        params: list[str],
        wanted: Mapping[str, Sequence[int]],
        into: dict[str, dict[int, int]],
    ) -> None:
        """Select the ranked values of each metric, sorting in SQLite and returning only those values.

        Per metric, SQLite reads the group from the covering index, sorts it (in C) and inserts it in that order into
        the connection's in-memory temp table ``ranked``, whose rowids are then the 1-based ranks; the ranks wanted
        are read back by rowid. This costs one sort per metric — measured about twice as fast as ``row_number()``
        window functions in SQLite 3.40 — and hands Python a handful of values instead of the group's rows.
        """
        connection = self._connection
        for metric, metric_ranks in wanted.items():
            connection.execute("DELETE FROM temp.ranked")  # emptied: rowids start at 1 again
            connection.execute(
                f"INSERT INTO temp.ranked (v) SELECT {metric} FROM events{where} ORDER BY {metric}",  # noqa: S608
                params,
            )
            placeholders = ", ".join("?" for _ in metric_ranks)
            rows = connection.execute(
                f"SELECT rowid, v FROM temp.ranked WHERE rowid IN ({placeholders})",  # noqa: S608
                list(metric_ranks),
            )
            for rank, value in rows:
                into[metric][int(rank)] = int(value)
        connection.execute("DELETE FROM temp.ranked")


class SQLiteStorage:
    """:class:`Storage` on stdlib :mod:`sqlite3`: a database file (WAL mode), or in memory when ``path`` is ``None``.

    :param path: the database file, created (mode 0600, as its ``-wal`` and ``-shm`` files) with its schema when
        missing and upgraded in place when older (:mod:`.migrations`); ``None`` (or ``":memory:"``) keeps everything in memory, gone at :meth:`close`.
    :raises ~.migrations.SchemaTooNewError: the file was written by a newer version of the code.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._in_memory = path is None or os.fspath(path) == ":memory:"
        self._path = ":memory:" if self._in_memory else os.fspath(path)  # type: ignore[arg-type]
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._closed = False
        if not self._in_memory:
            _create_private(self._path)
        self._writer = self._connect()
        try:
            if not self._in_memory:
                self._writer.execute("PRAGMA journal_mode = WAL")
                self._writer.execute("PRAGMA synchronous = NORMAL")
            migrate(self._writer, database=f"the database {self._path!r}")
        except BaseException:
            self._writer.close()
            raise

    @property
    def path(self) -> str:
        """The database file, or ``":memory:"``."""
        return self._path

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves (the same on 3.10-3.13).
        # check_same_thread=False: connections move between worker threads, always under a lock or the pool.
        connection = sqlite3.connect(
            self._path,
            timeout=_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        # Scratch space for rank selection (_SQLiteReader._order_statistics), private to the connection, in memory.
        connection.execute("PRAGMA temp_store = MEMORY")
        connection.execute("CREATE TEMP TABLE IF NOT EXISTS ranked (v INTEGER)")
        return connection

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the storage is closed")

    # -- keys ---------------------------------------------------------------------------------------------------------

    def add_key(self, key_sha256: str, instance_id: UUID, label: str | None = None) -> None:
        created_at = _iso(datetime.now(timezone.utc))
        with self._write_lock:
            self._check_open()
            self._writer.execute(
                "INSERT INTO api_keys (key_sha256, instance_id, label, created_at) VALUES (?, ?, ?, ?)",
                (key_sha256, str(instance_id), label, created_at),
            )

    def find_key(self, key_sha256: str) -> KeyRecord | None:
        with self._read_connection() as connection:
            row = connection.execute(f"{SELECT_KEYS} WHERE key_sha256 = ?", (key_sha256,)).fetchone()
        return None if row is None else _key_record(row)

    def list_keys(self) -> list[KeyRecord]:
        with self._read_connection() as connection:
            rows = connection.execute(f"{SELECT_KEYS} ORDER BY created_at, key_sha256").fetchall()
        return [_key_record(row) for row in rows]

    def revoke_keys(self, key_sha256s: Sequence[str], revoked_at: datetime) -> int:
        with self._write_lock:
            self._check_open()
            cursor = self._writer.executemany(
                "UPDATE api_keys SET revoked_at = ? WHERE key_sha256 = ? AND revoked_at IS NULL",
                [(_iso(revoked_at), digest) for digest in key_sha256s],
            )
            return max(cursor.rowcount, 0)

    def touch_key(self, key_sha256: str, used_at: datetime) -> None:
        with self._write_lock:
            self._check_open()
            self._writer.execute(
                "UPDATE api_keys SET last_used_at = ? WHERE key_sha256 = ?", (_iso(used_at), key_sha256)
            )

    # -- events -------------------------------------------------------------------------------------------------------

    def insert_events(self, events: Sequence[TaskCompletionEvent], received_at: datetime) -> list[bool]:
        rows = [_row(event, received_at) for event in events]  # outside the lock: pure Python work
        stored = []
        with self._write_lock:
            self._check_open()
            cursor = self._writer.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    cursor.execute(_INSERT, row)
                    stored.append(cursor.rowcount == 1)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
        return stored

    def count_events(self, instance_id: UUID | None = None) -> int:
        if instance_id is None:
            with self.reader() as reader:
                return reader.count({})
        with self._read_connection() as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM events WHERE instance_id = ?", (str(instance_id),)
            ).fetchone()
        return int(count)

    def fetch_event(self, instance_id: UUID, event_id: UUID) -> TaskCompletionEvent | None:
        with self._read_connection() as connection:
            row = connection.execute(
                f"SELECT {_COLUMN_LIST} FROM events WHERE instance_id = ? AND event_id = ?",  # noqa: S608
                (str(instance_id), str(event_id)),
            ).fetchone()
        if row is None:
            return None
        return event_from_values(
            {column.name: _loaded(column.kind, value) for column, value in zip(EVENT_COLUMNS, row, strict=True)}
        )

    # -- reads --------------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reader(self) -> Iterator[StorageReader]:
        with self._snapshot() as connection:
            yield _SQLiteReader(connection)

    @contextlib.contextmanager
    def stats(self) -> Iterator[StatsQueries]:
        with self._snapshot() as connection:
            yield StatsQueries(lambda sql, params: connection.execute(sql, params).fetchall(), SQLITE)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read connection inside one transaction: every read through it sees the same snapshot."""
        with self._read_connection() as connection:
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                connection.execute("COMMIT")

    @contextlib.contextmanager
    def _read_connection(self) -> Iterator[sqlite3.Connection]:
        """A connection to read with: a pooled reader for a file, the one connection (under the lock) in memory."""
        if self._in_memory:
            with self._write_lock:
                self._check_open()
                yield self._writer
            return
        with self._pool_lock:
            self._check_open()
            connection = self._idle_readers.pop() if self._idle_readers else None
        if connection is None:
            connection = self._connect()
        try:
            yield connection
        finally:
            with self._pool_lock:
                keep = not self._closed and len(self._idle_readers) < _READER_POOL_SIZE
                if keep:
                    self._idle_readers.append(connection)
            if not keep:
                connection.close()

    def close(self) -> None:
        """Close every connection (readers in use are closed when they are handed back). Idempotent."""
        with self._write_lock, self._pool_lock:
            if self._closed:
                return
            self._closed = True
            readers, self._idle_readers = self._idle_readers, []
            self._writer.close()
        for connection in readers:
            connection.close()

    def __enter__(self) -> SQLiteStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
