"""The spool file on its own: locking, the data path's bookkeeping, eviction, adoption, torn writes, bad files.

Synchronous (the engine calls these methods on a worker thread). A spool closed with rows left in it is exactly what
a dead process leaves behind: its lock is released and its file stays.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from mosaicstack_telemetry._accounting import Tally
from mosaicstack_telemetry._spool import SUFFIX, Spool, SpoolError


def bodies(count: int, start: int = 0, size: int = 10) -> list[bytes]:
    return [f'{{"n":{index:0{size - 6}d}}}'.encode() for index in range(start, start + count)]


def open_spool(directory: Path, max_bytes: int = 1 << 20) -> Spool:
    spool = Spool(directory, max_bytes)
    spool.open()
    return spool


def orphan(directory: Path, rows: list[bytes]) -> Path:
    """A spool file left by a process that died with ``rows`` unsent."""
    spool = open_spool(directory)
    spool.append(rows)
    path = spool.path
    assert path is not None
    spool.close()
    assert path.exists()
    return path


def spool_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def test_open_creates_one_file_named_by_pid_and_holds_an_exclusive_lock(tmp_path: Path) -> None:
    spool = open_spool(tmp_path / "made" / "here")
    assert spool.path is not None
    assert spool.path.parent == tmp_path / "made" / "here"
    assert spool.path.name.startswith(f"{os.getpid()}-")
    fd = os.open(spool.path, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    spool.close()


def test_an_unusable_directory_is_a_spool_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="a-file"):
        Spool(blocker / "spool", 1000).open()


def test_take_returns_the_oldest_rows_not_in_flight_and_settle_deletes_them(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(bodies(5))
    assert (spool.rows, spool.waiting, spool.bytes) == (5, 5, 50)

    first = spool.take(2)
    second = spool.take(2)
    assert first.bodies == bodies(2)
    assert second.bodies == bodies(2, start=2)
    assert (spool.rows, spool.waiting) == (5, 1)

    spool.settle(second, Tally(sent=1, rejected=1))
    assert (spool.rows, spool.waiting, spool.bytes) == (3, 1, 30)
    assert Tally(sent=1, rejected=1) == spool.settled  # tallied as the rows left the file

    spool.release(first)  # a failed send: first in line again
    assert spool.waiting == 3
    assert spool.take(10).bodies == [*bodies(2), *bodies(1, start=4)]
    spool.close()


def test_over_max_bytes_the_oldest_rows_not_in_flight_are_evicted_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = open_spool(tmp_path, max_bytes=100)  # ten 10-byte rows
    spool.append(bodies(8))
    in_flight = spool.take(2)  # rows 0 and 1 are being sent: never evicted

    spool.append(bodies(5, start=8))  # 13 rows, 130 bytes: three must go

    assert spool.evicted == 3
    assert (spool.rows, spool.bytes) == (10, 100)
    spool.settle(in_flight, Tally(sent=2))
    assert spool.take(100).bodies == bodies(8, start=5)  # rows 2, 3, 4 were the oldest not in flight
    assert "spool full (spool_max_bytes=100): 3 oldest events deleted unsent" in caplog.text
    spool.close()


def test_a_row_larger_than_the_bound_evicts_everything_including_itself(tmp_path: Path) -> None:
    spool = open_spool(tmp_path, max_bytes=15)
    spool.append(bodies(1))
    spool.append([b"x" * 40])
    assert (spool.rows, spool.bytes, spool.evicted) == (0, 0, 2)
    spool.close()


def test_close_deletes_an_empty_spool_with_its_companions_and_keeps_one_with_rows(tmp_path: Path) -> None:
    empty = open_spool(tmp_path)
    empty.append(bodies(1))
    empty.settle(empty.take(1), Tally(sent=1))
    empty.close()
    assert list(tmp_path.iterdir()) == []

    path = orphan(tmp_path, bodies(2))
    assert spool_files(tmp_path) == [path]


def test_adoption_copies_dead_spools_oldest_first_and_deletes_them(tmp_path: Path) -> None:
    older = orphan(tmp_path, bodies(3))
    newer = orphan(tmp_path, bodies(2, start=3))
    os.utime(older, (1, 1))

    spool = open_spool(tmp_path)
    assert spool.adopt_orphans() == 5

    assert (spool.adopted, spool.rows, spool.bytes) == (5, 5, 50)
    assert spool.take(10).bodies == bodies(5)
    assert spool.path is not None
    own = spool.path.name
    assert {path.name for path in tmp_path.iterdir()} <= {own, f"{own}-wal", f"{own}-shm"}  # orphans' WALs too
    assert not newer.exists()
    spool.close()


def test_a_live_spool_is_never_adopted(tmp_path: Path) -> None:
    alive = open_spool(tmp_path)
    alive.append(bodies(2))

    other = open_spool(tmp_path)
    assert other.adopt_orphans() == 0
    assert alive.rows == 2
    assert alive.path is not None
    assert alive.path.exists()
    other.close()
    alive.close()


def test_adoption_stays_within_max_bytes(tmp_path: Path) -> None:
    orphan(tmp_path, bodies(10))
    spool = open_spool(tmp_path, max_bytes=40)
    assert spool.adopt_orphans() == 10
    assert (spool.rows, spool.evicted) == (4, 6)
    assert spool.take(10).bodies == bodies(4, start=6)  # the newest are kept
    spool.close()


def test_a_torn_last_write_loses_only_that_write(tmp_path: Path) -> None:
    """A process killed in the middle of a commit leaves a WAL whose last frame is cut short: SQLite's checksums
    make recovery stop before it, and every earlier commit is read back whole."""
    alive = tmp_path / "alive"
    spool = open_spool(alive)
    spool.append(bodies(3))
    spool.append(bodies(3, start=3))
    spool.append([b"x" * 3000])  # the last commit: its frames are at the end of the WAL
    assert spool.path is not None
    wal = spool.path.with_name(spool.path.name + "-wal")
    assert wal.stat().st_size > 0  # not checkpointed: the commits are in the WAL

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    shutil.copy(spool.path, crashed / spool.path.name)
    torn = crashed / wal.name
    shutil.copy(wal, torn)
    with torn.open("r+b") as file:
        file.truncate(torn.stat().st_size - 100)  # the last frame, cut short
    spool.close()

    survivor = open_spool(crashed)
    assert survivor.adopt_orphans() == 6
    assert survivor.take(10).bodies == bodies(6)
    survivor.close()


def test_an_unreadable_spool_is_moved_aside_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    garbage = tmp_path / f"1-garbage{SUFFIX}"
    garbage.write_bytes(b"this is not a database" * 100)
    good = orphan(tmp_path, bodies(2))

    spool = open_spool(tmp_path)
    with caplog.at_level(logging.ERROR):
        assert spool.adopt_orphans() == 2
    assert not garbage.exists()
    assert garbage.with_suffix(".corrupt").exists()
    assert not good.exists()
    assert "is unreadable" in caplog.text
    spool.close()


def test_a_file_that_died_before_its_table_is_removed(tmp_path: Path) -> None:
    empty = tmp_path / f"1-empty{SUFFIX}"
    empty.touch()
    spool = open_spool(tmp_path)
    assert spool.adopt_orphans() == 0
    assert not empty.exists()
    spool.close()


def test_a_failed_write_is_counted_and_logged_never_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = open_spool(tmp_path)
    spool.append(bodies(1))
    connection = spool._connection
    assert connection is not None
    connection.execute("DROP TABLE events")  # every insert now fails, as on a full or broken disk

    spool.append(bodies(3))

    assert spool.write_failures == 3
    assert spool.rows == 1
    assert "could not write 3 events to the spool" in caplog.text
    spool.close()


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+: forking with threads alive (pytest's)
def test_after_fork_the_child_lets_go_of_the_parents_file_without_closing_it(tmp_path: Path) -> None:
    spool = open_spool(tmp_path)
    spool.append(bodies(2))
    path = spool.path
    assert path is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            spool.abandon_after_fork()
            child = open_spool(tmp_path)
            result = f"{int(child.adopt_orphans())} {int(child.path != path)}"
            child.close()
        except BaseException as error:
            result = repr(error)
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    reply = os.read(read, 1000).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert reply == "0 1"  # the parent's spool was still locked by the parent: not adopted
    assert spool.rows == 2
    assert spool.take(10).bodies == bodies(2)  # the parent's file is intact and usable
    spool.close()


def test_the_rows_survive_in_sqlite_exactly_as_written(tmp_path: Path) -> None:
    path = orphan(tmp_path, [b'{"a":1}', b'{"b":2}'])
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT body FROM events ORDER BY seq").fetchall() == [(b'{"a":1}',), (b'{"b":2}',)]
    connection.close()


def test_a_failed_delete_keeps_the_rows_counts_the_batch_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server answered: the batch is counted whatever the disk does; rows a delete could not remove are sent
    again later and answered "duplicate"."""
    spool = open_spool(tmp_path)
    spool.append(bodies(3))
    batch = spool.take(3)
    connection = spool._connection
    assert connection is not None
    connection.execute(
        "CREATE TRIGGER no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
    )
    spool.settle(batch, Tally(sent=3))

    assert Tally(sent=3) == spool.settled
    assert (spool.rows, spool.waiting) == (3, 3)  # not in flight any more: taken again, sent again
    assert "could not delete 3 sent events from the spool" in caplog.text
    connection.execute("DROP TRIGGER no_delete")
    spool.close()


def test_an_event_that_cannot_be_encoded_is_counted_not_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mosaicstack_telemetry import _wire
    from mosaicstack_telemetry._backlog import SpoolBacklog
    from mosaicstack_telemetry._queue import EventQueue
    from mosaicstack_telemetry.builder import EventBuilder

    good, bad = (EventBuilder(instance_id="12345678-1234-1234-1234-123456789abc").build() for _ in range(2))
    real_dumps = _wire.dumps

    def refuse_bad(obj: object) -> bytes:
        if obj is bad:
            raise TypeError("cannot encode")
        return real_dumps(obj)

    monkeypatch.setattr(_wire, "dumps_each", lambda objs: [refuse_bad(obj) for obj in objs])
    monkeypatch.setattr(_wire, "dumps", refuse_bad)
    intake = EventQueue(10)
    intake.put(good)
    intake.put(bad)
    spool = open_spool(tmp_path)

    assert SpoolBacklog(spool, intake)._write_intake_now() == 2

    assert (spool.rows, spool.write_failures, spool.incoming) == (1, 1, 0)
    assert spool.take(10).bodies == [real_dumps(good)]
    assert "could not encode an event for the spool" in caplog.text
    spool.close()


def test_a_spool_for_another_destination_is_left_for_its_own_client(tmp_path: Path) -> None:
    """Two applications (servers or instances) sharing a directory never send each other's events."""
    theirs = Spool(tmp_path, 1 << 20, destination="https://other.example 1")
    theirs.open()
    theirs.append(bodies(2))
    assert theirs.path is not None
    left = theirs.path
    theirs.close()

    ours = Spool(tmp_path, 1 << 20, destination="http://127.0.0.1:1 2")
    ours.open()
    assert ours.adopt_orphans() == 0
    assert left.exists()
    ours.close()

    same = Spool(tmp_path, 1 << 20, destination="https://other.example 1")
    same.open()
    assert same.adopt_orphans() == 2
    assert not left.exists()
    same.close()


def test_a_spool_that_fails_while_opening_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mosaicstack_telemetry import _spool

    def broken_schema(connection: sqlite3.Connection, destination: str) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(_spool, "_create_schema", broken_schema)
    spool = Spool(tmp_path, 1000)
    with pytest.raises(SpoolError, match="disk I/O error"):
        spool.open()
    assert not spool.is_open
    assert list(tmp_path.iterdir()) == []


def test_a_spool_path_under_the_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    spool = open_spool(Path("~/telemetry-spool"))
    assert spool.path is not None
    assert spool.path.parent == tmp_path / "telemetry-spool"
    spool.close()


def test_a_closed_spool_never_closes_a_descriptor_number_reused_since(tmp_path: Path) -> None:
    """A spool closed in the parent and still alive at a later fork must not close, in the child, the descriptor
    number its lock once had: by then it belongs to something else (it once closed multiprocessing's own pipe, and
    the worker died with exit code 1)."""
    spool = open_spool(tmp_path)
    spool.append(bodies(1))
    spool.close()
    reader, writer = os.pipe()  # takes the lowest free numbers: the ones the spool just gave back
    try:
        spool.abandon_after_fork()
        os.fstat(reader)
        os.fstat(writer)
    finally:
        os.close(reader)
        os.close(writer)
