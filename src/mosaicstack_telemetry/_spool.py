"""``Spool``: the optional on-disk copy of unsent events (``spool_path``), one locked SQLite file per process.

Layout: ``spool_path/<pid>-<random>.spool`` (plus SQLite's ``-wal`` and ``-shm``), in WAL mode with
``synchronous=NORMAL``: a commit survives the process dying, not an operating-system crash. Its owner holds an
exclusive ``flock`` on it for as long as it lives; the next client started in that directory with the same
destination (server URL and instance, recorded in the file) adopts the files of dead processes
(:mod:`._spool_files`). Forked workers each open their own file.

Every method blocks: the engine calls them on a worker thread (:mod:`._backlog`), one at a time. The counters are
plain ints the loop thread may read at any time; :meth:`Spool.snapshot` reads them together.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import attrs

from ._accounting import Tally
from ._batch import SpooledBatch
from ._spool_files import claimed, copy_rows, orphan_candidates, remove_spool_files, set_aside

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, no spool
    fcntl = None  # type: ignore[assignment]

__all__ = ["Spool", "SpoolError"]

logger = logging.getLogger("mosaicstack_telemetry")

T = TypeVar("T")
R = TypeVar("R")

SUFFIX = ".spool"
#: Oldest rows looked at per round when evicting for ``spool_max_bytes``.
_EVICT_CHUNK = 500

#: Connections inherited through fork() are never closed in the child (SQLite forbids using them there, and closing
#: one may checkpoint or delete the parent's WAL): they are kept here, unused, for the child's lifetime.
_ABANDONED: list[sqlite3.Connection] = []


class SpoolError(Exception):
    """The spool could not be opened or written (the message names the file, never the event)."""


class Spool:
    """The spool of one client: a file opened on first use, counters that outlive it.

    :param directory: ``spool_path``; created if missing.
    :param max_bytes: most bytes of event JSON kept; beyond it the oldest rows not in flight are deleted (counted
        in :attr:`evicted`). SQLite's own overhead (page headers, the WAL until a checkpoint) comes on top.
    :param destination: where the events go, stored in the file: a spool is adopted only by a client with the same.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int, destination: str = "") -> None:
        self.directory = Path(directory).expanduser()  # "~/.cache/…" means the home directory, as users expect
        self.max_bytes = max_bytes
        #: where the events go (server URL and instance): only spools with the same destination are adopted, so
        #: two applications sharing a directory never send each other's events
        self.destination = destination
        self.path: Path | None = None
        #: rows in the file / bytes of JSON in them
        self.rows = 0
        self.bytes = 0
        #: rows deleted unsent to stay within ``max_bytes``
        self.evicted = 0
        #: rows copied from the spools of dead processes
        self.adopted = 0
        #: events that could not be written (I/O error, disk full): lost, and counted
        self.write_failures = 0
        #: events taken from the intake queue and not yet written (so that a snapshot counts them somewhere)
        self.incoming = 0
        #: what the batches settled from this file came to (tallied as their rows are deleted)
        self.settled = Tally()
        self._connection: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._finalizer: weakref.finalize[..., Spool] | None = None
        self._in_flight: set[int] = set()
        self._state = threading.Lock()  # _in_flight and the counters: the loop thread releases batches (put back)
        self._db = threading.Lock()  # one statement sequence at a time on the connection

    # -- state --------------------------------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._connection is not None

    @property
    def waiting(self) -> int:
        """Rows neither in flight nor settled: what the batcher can still take."""
        return self.rows - len(self._in_flight)

    def receive(self, drain: Callable[[], list[T]]) -> list[T]:
        """Take events from the intake for :meth:`append`; until it returns they are counted :attr:`incoming`."""
        with self._state:
            events = drain()
            self.incoming = len(events)
        return events

    def snapshot(self, read_intake: Callable[[], R]) -> tuple[R, int, int, Tally]:
        """``(read_intake(), waiting + incoming, in flight, settled)`` at one instant: with :meth:`receive` and the
        data path holding the same lock, an event is never between two figures (or in two) while a snapshot is
        taken."""
        with self._state:
            return read_intake(), self.waiting + self.incoming, len(self._in_flight), attrs.evolve(self.settled)

    # -- opening and closing ------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Create and lock this process's file. Idempotent. :raises SpoolError: naming the directory."""
        with self._db:
            self._open_locked()

    def _open_locked(self) -> None:
        if self._connection is not None:
            return
        if fcntl is None:  # pragma: no cover - Windows
            raise SpoolError("the spool needs flock (POSIX); it is not available on this platform")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            connection: sqlite3.Connection | None = None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                connection = _connect(path)
                _create_schema(connection, self.destination)
            except BaseException:
                if connection is not None:
                    connection.close()
                os.close(fd)
                remove_spool_files(path)
                raise
        except (OSError, sqlite3.Error) as error:
            raise SpoolError(f"could not open a spool in {str(self.directory)!r}: {error}") from error
        self.path, self._connection, self._lock_fd = path, connection, fd
        self.rows = self.bytes = 0
        self._in_flight.clear()
        self._finalizer = weakref.finalize(self, _close, connection, fd)
        self._finalizer.atexit = False  # at exit the client closes it after its last flush; the OS does the rest

    def close(self) -> None:
        """Close the file and release its lock; delete it if nothing is left in it (else the next process adopts)."""
        with self._db:
            connection, path = self._connection, self.path
            if connection is None or path is None:
                return
            self._connection = None
            self._lock_fd = None  # closed below: its number may be reused (a fork must not close it again)
            empty = self.rows == 0
            if self._finalizer is not None:
                self._finalizer()  # closes the connection, then releases the lock
            if empty:
                remove_spool_files(path)

    def hold_for_fork(self) -> None:
        """Before ``fork()``: wait for the SQLite call in progress and let no other start, so that the child is not
        born with SQLite's internal locks held by a thread it does not have. :meth:`release_after_fork` undoes it."""
        self._db.acquire()

    def release_after_fork(self) -> None:
        self._db.release()

    def abandon_after_fork(self) -> None:
        """In a forked child: let go of the parent's file without touching it (the parent still owns it)."""
        connection, fd = self._connection, self._lock_fd
        self._connection, self._lock_fd = None, None
        if self._finalizer is not None:
            self._finalizer.detach()
        if connection is not None:
            _ABANDONED.append(connection)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # our copy of the descriptor: the parent's lock stays (it holds its own)

    # -- adoption -----------------------------------------------------------------------------------------------------

    def adopt_orphans(self) -> int:
        """Copy the rows of every spool in the directory whose owner is dead into ours, oldest file first, and
        delete those files. Returns how many rows were adopted. A file SQLite cannot read is renamed ``*.corrupt``
        and reported; it never stops the client."""
        return sum(self._adopt(path) for path in orphan_candidates(self.directory, SUFFIX, self.path))

    def _adopt(self, path: Path) -> int:
        with claimed(path) as ours:
            if not ours:
                return 0  # its owner is alive, or another process adopted it first
            try:
                count = self._copy_rows_of(path)
            except sqlite3.DatabaseError as error:
                logger.error("mosaicstack-telemetry: spool %s is unreadable (%s); moved aside as .corrupt", path, error)
                set_aside(path)
                return 0
            if count is None:
                logger.debug("mosaicstack-telemetry: spool %s is for another destination; left for its client", path)
                return 0
            remove_spool_files(path)
        if count:
            logger.warning(
                "mosaicstack-telemetry: adopted %d unsent events from %s (a process that ended)", count, path
            )
        return count

    def _copy_rows_of(self, path: Path) -> int | None:
        """Copy an orphan's rows into ours in one transaction; ``None`` if it is for another destination."""
        with self._db:
            connection = self._require_open()
            copied = copy_rows(connection, path, self.destination)
            if copied is None:
                return None
            count, size = copied
            with self._state:
                self.rows += count
                self.bytes += size
                self.adopted += count
            self._evict_locked(connection)
            return count

    # -- the data path ------------------------------------------------------------------------------------------------

    def append(self, bodies: list[bytes]) -> None:
        """Write events (their JSON) in one transaction, then evict the oldest if over ``max_bytes``.

        On an I/O error the events are counted in :attr:`write_failures` and logged, never raised: they are lost.
        """
        if not bodies:
            with self._state:
                self.incoming = 0
            return
        with self._db:
            connection = self._require_open()
            try:
                connection.execute("BEGIN")
                try:
                    connection.executemany("INSERT INTO events (body) VALUES (?)", [(body,) for body in bodies])
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                with self._state:
                    self.write_failures += len(bodies)
                    self.incoming = 0
                logger.error("mosaicstack-telemetry: could not write %d events to the spool: %s", len(bodies), error)
                return
            with self._state:
                self.rows += len(bodies)
                self.bytes += sum(map(len, bodies))
                self.incoming = 0
            self._evict_locked(connection)

    def count_unwritable(self, count: int) -> None:
        """Events :meth:`receive` took that could not even be encoded (a bug): lost, and counted."""
        with self._state:
            self.write_failures += count
            self.incoming -= count

    def take(self, max_items: int) -> SpooledBatch:
        """The oldest rows not already in flight (up to ``max_items``), marked in flight."""
        with self._db:
            connection = self._require_open()
            with self._state:
                skip = set(self._in_flight)
            rows = connection.execute(
                "SELECT seq, body FROM events ORDER BY seq LIMIT ?", (max_items + len(skip),)
            ).fetchall()
            batch = SpooledBatch([row for row in rows if row[0] not in skip][:max_items])
            with self._state:
                self._in_flight.update(batch.seqs)
            return batch

    def release(self, batch: SpooledBatch) -> None:
        """Back to waiting (a send failed): the next :meth:`take` returns these rows first. Never blocks on I/O."""
        with self._state:
            self._in_flight.difference_update(batch.seqs)

    def settle(self, batch: SpooledBatch, outcome: Tally) -> None:
        """Delete rows the server answered for (accepted, rejected, duplicate) or that were dropped for good.

        ``outcome`` (where they went: sent, rejected, refused) joins :attr:`settled` under the lock snapshots take,
        as the rows leave the spool, so a snapshot never sees them in neither place nor in both.
        """
        with self._db:
            connection = self._require_open()
            try:
                connection.execute("BEGIN")
                _delete(connection, batch.seqs)
                connection.execute("COMMIT")
            except sqlite3.Error as error:  # the rows stay: at worst they are sent again, and counted duplicates
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                logger.error(
                    "mosaicstack-telemetry: could not delete %d sent events from the spool: %s", len(batch), error
                )
                with self._state:
                    self._in_flight.difference_update(batch.seqs)
                    self.settled.add(outcome)
            else:
                with self._state:
                    self.rows -= len(batch.seqs)
                    self.bytes -= batch.size
                    self._in_flight.difference_update(batch.seqs)
                    self.settled.add(outcome)

    def _evict_locked(self, connection: sqlite3.Connection) -> None:
        """Delete the oldest rows not in flight until the JSON kept is within ``max_bytes`` (caller holds _db)."""
        after = -1
        while self.bytes > self.max_bytes:
            rows = connection.execute(
                "SELECT seq, LENGTH(body) FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, _EVICT_CHUNK)
            ).fetchall()
            if not rows:
                return  # everything left is in flight
            with self._state:
                victims: list[int] = []
                freed = 0
                for seq, size in rows:
                    after = seq
                    if seq in self._in_flight:
                        continue
                    victims.append(seq)
                    freed += size
                    if self.bytes - freed <= self.max_bytes:
                        break
            connection.execute("BEGIN")
            _delete(connection, victims)
            connection.execute("COMMIT")
            with self._state:
                self.rows -= len(victims)
                self.bytes -= freed
                self.evicted += len(victims)
            if victims:
                logger.warning(
                    "mosaicstack-telemetry: spool full (spool_max_bytes=%d): %d oldest events deleted unsent",
                    self.max_bytes,
                    len(victims),
                )

    def _require_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise SpoolError("the spool is not open")
        return self._connection


def _delete(connection: sqlite3.Connection, seqs: list[int]) -> None:
    """Delete rows by key: one range when they are consecutive (a batch usually is: 3× cheaper), else one by one."""
    if seqs and seqs[-1] - seqs[0] == len(seqs) - 1 and seqs == sorted(seqs):
        connection.execute("DELETE FROM events WHERE seq BETWEEN ? AND ?", (seqs[0], seqs[-1]))
    else:
        connection.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq in seqs])


def _create_schema(connection: sqlite3.Connection, destination: str) -> None:
    """The tables and the destination, in one transaction: a file has all of them or none (a process may die here)."""
    connection.execute("BEGIN")
    connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    connection.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    connection.execute("INSERT INTO meta (key, value) VALUES ('destination', ?)", (destination,))
    connection.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (one transaction per batch of rows).
    connection = sqlite3.connect(path.resolve().as_uri(), uri=True, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _close(connection: sqlite3.Connection, fd: int) -> None:
    with contextlib.suppress(sqlite3.Error):
        connection.close()
    with contextlib.suppress(OSError):
        os.close(fd)  # after the connection: closing a descriptor of the file drops the process's SQLite locks
