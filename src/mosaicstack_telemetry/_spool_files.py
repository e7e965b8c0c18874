"""The files of spools, as adoption sees them: finding the spools of dead processes, claiming one, copying its rows,
and removing or setting aside a file.

A spool's owner holds an exclusive ``flock`` on its file for as long as it lives, so a file whose lock can be taken
belongs to a dead process. Every function blocks; the spool calls them on its worker thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, no spool
    fcntl = None  # type: ignore[assignment]

__all__ = ["claimed", "copy_rows", "orphan_candidates", "remove_spool_files", "set_aside"]

#: SQLite's companions of a database file in WAL mode
_COMPANIONS = ("-wal", "-shm")


def orphan_candidates(directory: Path, suffix: str, own: Path | None) -> list[Path]:
    """The spool files in ``directory`` but ours, oldest first (their events were tracked first)."""
    return sorted((path for path in directory.glob(f"*{suffix}") if path != own), key=_age)


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Whether we hold ``path``'s lock — its owner is dead and no other process adopted it first — for the block."""
    assert fcntl is not None  # noqa: S101 - a spool opens only where flock exists
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield False  # another process adopted it meanwhile
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # its owner is alive
            return
        yield os.fstat(fd).st_nlink > 0  # else adopted and deleted by another process between our open and lock
    finally:
        os.close(fd)


def copy_rows(connection: sqlite3.Connection, path: Path, destination: str) -> tuple[int, int] | None:
    """Copy the events of the spool at ``path`` into ``connection``'s, in one transaction: ``(rows, bytes)``, or
    ``None`` if that spool is for another destination.

    :raises sqlite3.DatabaseError: if the file is not a readable spool.
    """
    connection.execute("ATTACH DATABASE ? AS orphan", (f"{path.resolve().as_uri()}?mode=rw",))
    try:
        has_tables = connection.execute(
            "SELECT 1 FROM orphan.sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_tables:  # died between creating the file and its tables: nothing in it
            return 0, 0
        stored = connection.execute("SELECT value FROM orphan.meta WHERE key = 'destination'").fetchone()
        if stored is None or stored[0] != destination:
            return None
        connection.execute("BEGIN IMMEDIATE")
        try:
            count, size = connection.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM orphan.events"
            ).fetchone()
            connection.execute("INSERT INTO main.events (body) SELECT body FROM orphan.events ORDER BY seq")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.execute("DETACH DATABASE orphan")
    return int(count), int(size)


def set_aside(path: Path) -> None:
    """Rename an unreadable spool ``*.corrupt``, out of adoption's way (kept for whoever wants to look)."""
    with contextlib.suppress(OSError):
        path.rename(path.with_suffix(".corrupt"))


def remove_spool_files(path: Path) -> None:
    """Delete a spool file and SQLite's companions of it."""
    for name in (path, *(path.with_name(path.name + suffix) for suffix in _COMPANIONS)):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
