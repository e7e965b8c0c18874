"""The PostgreSQL backend of :class:`~.storage.Storage`: :class:`PostgresStorage` (psycopg 3 and its pool).

The same semantics as :class:`~.sqlite.SQLiteStorage`, which the storage contract tests run against both:

* **Insert**: multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` statements of at most :data:`CHUNK_ROWS`
  rows (PostgreSQL binds at most 65,535 parameters per statement), all in one transaction. A repeat inside the batch
  is sent once (its first occurrence) and reported a duplicate, whichever statement carries it; rows go in key order,
  so two concurrent batches sharing events (a client's retry racing its first attempt) lock them in the same order
  and cannot deadlock. A statement's row count is a power of two (the last row repeated to fill it, which the
  conflict clause skips), so a connection prepares a handful of statements, not one per batch size. Any number of
  processes may insert at once: the primary key (``instance_id``, ``event_id``) keeps each event once.
* **Reads**: a :meth:`~PostgresStorage.reader` is one ``REPEATABLE READ READ ONLY`` transaction: counts, summaries
  and the version come from one snapshot. Order statistics are selected in SQL by 1-based rank over the sorted
  group (``(array_agg(m ORDER BY m))[rank]``), exactly the values SQLite's rank selection gives, so predictions
  are the same on both backends. Only the ranked values reach Python.
* **Version**: the sum of the ``event_versions`` counters (:mod:`.pg_migrations`), bumped by each insert in its
  own transaction: it grows exactly when a snapshot sees more events, whichever process stored them.
* **Values**: native types (``uuid``, ``timestamptz``, ``bigint``, ``boolean``, ``text[]``, ``double precision``)
  from :func:`~.columns.event_values`, adapted by psycopg as they are; sessions run in UTC.

Connections come from a :class:`psycopg_pool.ConnectionPool` (autocommit; each operation opens the transaction it
needs), checked when taken: after a database restart or a failover the next request gets a new connection, not an
error. The URL's password never appears in a message or repr: :func:`~.backends.masked_url` names the database.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from ..events import TaskCompletionEvent
from ._sql import SELECT_KEYS, check_metrics, group_summary, key_record, matched_dimensions
from .backends import SECRET_PARAMETERS, StorageOpenError, masked_url
from .columns import COLUMN_NAMES, event_from_values, event_values
from .pg_migrations import VERSION_SLOTS, migrate_postgres
from .stats_queries import POSTGRES, StatsQueries
from .storage import Dimensions, GroupSummary, KeyRecord, StorageReader

__all__ = ["PostgresStorage"]

_Connection = psycopg.Connection[TupleRow]

#: Connections per process: the HTTP layer's worker threads share them.
POOL_SIZE = 10
#: Seconds to wait for the server when opening, and for a free pooled connection.
CONNECT_TIMEOUT_SECONDS = 10

#: Rows per insert statement at most: a power of two whose values stay under PostgreSQL's 65,535 bound parameters.
CHUNK_ROWS = min(512, 1 << ((65_535 // len(COLUMN_NAMES)).bit_length() - 1))

_INSTANCE = COLUMN_NAMES.index("instance_id")
_EVENT = COLUMN_NAMES.index("event_id")
_COLUMNS = sql.SQL(", ").join(sql.Identifier(name) for name in COLUMN_NAMES)
_BUMP_VERSION = "UPDATE event_versions SET events = events + %s WHERE slot = pg_backend_pid() %% %s"

_AGGREGATES = sql.SQL(
    "SELECT count(*), count(*) FILTER (WHERE quality_gate_passed), count(*) FILTER (WHERE outcome = 'success'),"
    " coalesce(sum(actual_input_tokens) FILTER (WHERE estimated_input_tokens > 0), 0),"
    " coalesce(sum(estimated_input_tokens) FILTER (WHERE estimated_input_tokens > 0), 0),"
    " coalesce(sum(actual_output_tokens) FILTER (WHERE estimated_output_tokens > 0), 0),"
    " coalesce(sum(estimated_output_tokens) FILTER (WHERE estimated_output_tokens > 0), 0)"
    " FROM events"
)


@functools.lru_cache(maxsize=16)
def _insert(rows: int) -> bytes:
    """The insert of ``rows`` events, with PostgreSQL's own ``$n`` placeholders: run by a :class:`psycopg.RawCursor`
    and prepared, it skips psycopg's placeholder conversion and PostgreSQL's parsing, the bulk of a batch's cost."""
    width = len(COLUMN_NAMES)
    values = ", ".join(
        "(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")" for row in range(rows)
    )
    columns = ", ".join(f'"{name}"' for name in COLUMN_NAMES)
    statement = f"INSERT INTO events ({columns}) VALUES {values} ON CONFLICT DO NOTHING RETURNING instance_id, event_id"  # noqa: S608 - names from columns.py, values bound
    return statement.encode()


def _chunks(rows: Sequence[Sequence[object]]) -> Iterator[list[Sequence[object]]]:
    """``rows`` in statements of at most :data:`CHUNK_ROWS`, each padded to a power of two with its last row."""
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = list(rows[start : start + CHUNK_ROWS])
        size = 1 << (len(chunk) - 1).bit_length()
        yield chunk + [chunk[-1]] * (size - len(chunk))


def _where(dimensions: Dimensions) -> tuple[sql.Composed | sql.SQL, list[str]]:
    """A ``WHERE`` clause over known column names only (values are bound, names checked: no injection)."""
    names = matched_dimensions(dimensions)
    if not names:
        return sql.SQL(""), []
    condition = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in names)
    return sql.SQL(" WHERE ") + condition, [dimensions[name] for name in names]


def _secrets(url: str) -> list[str]:
    """The password(s) a URL carries, to scrub from error messages."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [value for name, value in parse_qsl(parts.query) if name.lower() in SECRET_PARAMETERS and value]
    return found


def _configure(connection: _Connection) -> None:
    connection.execute("SET TIME ZONE 'UTC'")  # timestamptz values come back as UTC datetimes


class _PostgresReader:
    """:class:`StorageReader` over one connection inside a repeatable-read transaction."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def _one(self, query: sql.Composed | sql.SQL, params: Sequence[object]) -> tuple[Any, ...]:
        row: tuple[Any, ...] | None = self._connection.execute(query, params).fetchone()
        assert row is not None  # noqa: S101 - an aggregate always returns a row
        return row

    def version(self) -> int:
        return int(self._one(sql.SQL("SELECT coalesce(sum(events), 0) FROM event_versions"), [])[0])

    def count(self, dimensions: Dimensions) -> int:
        where, params = _where(dimensions)
        return int(self._one(sql.SQL("SELECT count(*) FROM events") + where, params)[0])

    def summarize(self, dimensions: Dimensions, ranks: Mapping[str, Sequence[int]]) -> GroupSummary:
        check_metrics(ranks)
        where, params = _where(dimensions)
        return group_summary(
            ranks,
            self._one(_AGGREGATES + where, params),
            lambda wanted, into: self._order_statistics(where, params, wanted, into),
        )

    def _order_statistics(
        self,
        where: sql.Composed | sql.SQL,
        params: list[str],
        wanted: Mapping[str, Sequence[int]],
        into: dict[str, dict[int, int]],
    ) -> None:
        """Every metric's ranked values in one statement: one scan of the group, one sort per metric in PostgreSQL,
        the values at the wanted 1-based ranks read from the sorted arrays (a rank beyond the group gives NULL)."""
        metrics = list(wanted)
        sorted_arrays = sql.SQL(", ").join(
            sql.SQL("array_agg({m} ORDER BY {m}) AS {a}").format(m=sql.Identifier(metric), a=sql.Identifier(f"a{i}"))
            for i, metric in enumerate(metrics)
        )
        picks = sql.SQL(", ").join(
            sql.SQL("{}[%s]").format(sql.Identifier(f"a{i}"))
            for i, metric in enumerate(metrics)
            for _ in wanted[metric]
        )
        query = sql.SQL("SELECT {} FROM (SELECT {} FROM events{}) AS sorted").format(picks, sorted_arrays, where)
        ranks = [rank for metric in metrics for rank in wanted[metric]]
        values = iter(self._one(query, [*ranks, *params]))
        for metric in metrics:
            for rank in wanted[metric]:
                value = next(values)
                if value is not None:
                    into[metric][rank] = int(value)


class PostgresStorage:
    """:class:`Storage` on PostgreSQL: the database at ``url`` (``postgresql://user@host:port/db``), its schema
    created or upgraded at open (:mod:`.pg_migrations`, safe with several processes opening at once).

    :param pool_size: the most connections this process keeps open.
    :raises StorageOpenError: the database cannot be reached, refuses the connection, or the URL is malformed.
    :raises ~.migrations.SchemaTooNewError: the database was written by a newer version of the code.
    """

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self._display = masked_url(url)
        self._closed = False
        self._lock = threading.Lock()
        pool: ConnectionPool[_Connection] | None = None
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
                migrate_postgres(connection, database=f"the database {self._display}")
            pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
                configure=_configure,
                check=ConnectionPool.check_connection,  # a connection the server dropped is replaced, not used
                timeout=CONNECT_TIMEOUT_SECONDS,
                name="mosaic-telemetry",
                open=False,
            )
            pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.Error as error:
            if pool is not None:
                pool.close()
            message = str(error).strip()
            for secret in _secrets(url):
                message = message.replace(secret, "***")
            raise StorageOpenError(f"cannot open the database {self._display}: {message}") from None
        self._pool = pool

    @property
    def url(self) -> str:
        """The database URL with its password masked (the only form this object shows)."""
        return self._display

    def __repr__(self) -> str:
        return f"PostgresStorage({self._display!r})"

    @contextlib.contextmanager
    def _connection(self) -> Iterator[_Connection]:
        if self._closed:
            raise RuntimeError("the storage is closed")
        with self._pool.connection() as connection:
            yield connection

    # -- keys ---------------------------------------------------------------------------------------------------------

    def add_key(self, key_sha256: str, instance_id: UUID, label: str | None = None) -> None:
        created_at = datetime.now(timezone.utc)  # the server's clock, as every other time it stores
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO api_keys (key_sha256, instance_id, label, created_at) VALUES (%s, %s, %s, %s)",
                (key_sha256, instance_id, label, created_at),
            )

    def find_key(self, key_sha256: str) -> KeyRecord | None:
        with self._connection() as connection:
            row = connection.execute(SELECT_KEYS + " WHERE key_sha256 = %s", (key_sha256,)).fetchone()
        return None if row is None else key_record(row)

    def list_keys(self) -> list[KeyRecord]:
        with self._connection() as connection:
            rows = connection.execute(SELECT_KEYS + " ORDER BY created_at, key_sha256").fetchall()
        return [key_record(row) for row in rows]

    def revoke_keys(self, key_sha256s: Sequence[str], revoked_at: datetime) -> int:
        with self._connection() as connection:
            cursor = connection.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_sha256 = ANY(%s) AND revoked_at IS NULL",
                (revoked_at, list(key_sha256s)),
            )
            return max(cursor.rowcount, 0)

    def touch_key(self, key_sha256: str, used_at: datetime) -> None:
        with self._connection() as connection:
            connection.execute("UPDATE api_keys SET last_used_at = %s WHERE key_sha256 = %s", (used_at, key_sha256))

    # -- events -------------------------------------------------------------------------------------------------------

    def insert_events(self, events: Sequence[TaskCompletionEvent], received_at: datetime) -> list[bool]:
        rows = [event_values(event, received_at) for event in events]
        keys = [(row[_INSTANCE], row[_EVENT]) for row in rows]
        first: dict[tuple[UUID, UUID], int] = {}
        for position, key in enumerate(keys):
            first.setdefault(key, position)
        if not first:
            return []
        unique = [rows[position] for _, position in sorted(first.items())]  # key order: one lock order for all
        stored: set[tuple[UUID, UUID]] = set()
        with self._connection() as connection, connection.transaction():
            cursor = psycopg.RawCursor(connection)
            for chunk in _chunks(unique):
                cursor.execute(_insert(len(chunk)), [value for row in chunk for value in row], prepare=True)
                stored.update((row[0], row[1]) for row in cursor.fetchall())
            if stored:
                connection.execute(_BUMP_VERSION, (len(stored), VERSION_SLOTS))
        return [first[key] == position and key in stored for position, key in enumerate(keys)]

    def count_events(self, instance_id: UUID | None = None) -> int:
        if instance_id is None:
            with self.reader() as reader:
                return reader.count({})
        with self._connection() as connection:
            row = connection.execute("SELECT count(*) FROM events WHERE instance_id = %s", (instance_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def fetch_event(self, instance_id: UUID, event_id: UUID) -> TaskCompletionEvent | None:
        query = sql.SQL("SELECT {} FROM events WHERE instance_id = %s AND event_id = %s").format(_COLUMNS)
        with self._connection() as connection:
            row = connection.execute(query, (instance_id, event_id)).fetchone()
        return None if row is None else event_from_values(dict(zip(COLUMN_NAMES, row, strict=True)))

    # -- reads --------------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reader(self) -> Iterator[StorageReader]:
        with self._snapshot() as connection:
            yield _PostgresReader(connection)

    @contextlib.contextmanager
    def stats(self) -> Iterator[StatsQueries]:
        with self._snapshot() as connection:
            yield StatsQueries(lambda query, params: connection.execute(query, params).fetchall(), POSTGRES)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[_Connection]:
        """A pooled connection inside one repeatable-read, read-only transaction: one snapshot for every read."""
        with self._connection() as connection, connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield connection

    def close(self) -> None:
        """Close the pool (waiting for connections in use to come back). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()

    def __enter__(self) -> PostgresStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
