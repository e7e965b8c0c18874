"""API keys (hashed, constant-time compare) and the storage contract behind the :class:`Storage` interface.

The contract tests take ``storage`` and run on each backend (in-memory SQLite, a fresh PostgreSQL database); the
tests of files, WAL and modes are SQLite's own.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.server import SQLiteStorage, Storage, create_key, hash_key, verify_key
from mosaicstack_telemetry.server.backends import database_errors
from mosaicstack_telemetry.server.keys import is_well_formed

from ._server_support import wire_event

NOW = datetime(2026, 2, 1, tzinfo=timezone.utc)


@pytest.fixture
def storage(any_storage: Storage) -> Storage:
    """Each backend in turn (see ``any_storage`` in conftest)."""
    return any_storage


def event(**fields: object) -> TaskCompletionEvent:
    return TaskCompletionEvent.model_validate(wire_event(uuid4(), **fields))


def test_each_backend_is_a_storage(storage: Storage) -> None:
    """The HTTP layer sees only the interface: mypy checks the types through the fixture's assignments, and at run
    time each backend has every method the interface names, each callable."""
    interface = [name for name in vars(Storage) if not name.startswith("_")]
    assert interface
    assert [] == [name for name in interface if not callable(getattr(storage, name, None))]


# -- keys -------------------------------------------------------------------------------------------------------------


def test_create_and_verify_a_key(storage: Storage) -> None:
    key = create_key(storage, label="ci")
    assert is_well_formed(key.key)
    assert key.key == key.key.lower()
    assert key.instance_id == verify_key(storage, key.key)
    assert key.instance_id == verify_key(storage, key.key.upper())
    assert "key=" not in repr(key)
    assert key.key not in repr(key)


def test_only_the_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    with SQLiteStorage(path) as store:
        key = create_key(store)
        record = store.find_key(hash_key(key.key))
        assert record is not None
        assert hashlib.sha256(key.key.encode()).hexdigest() == record.key_sha256
        assert key.instance_id == record.instance_id
    with sqlite3.connect(path) as raw:
        dump = "\n".join(raw.iterdump())
    raw.close()
    assert key.key not in dump
    assert hash_key(key.key) in dump


@pytest.mark.parametrize("candidate", ["", "a" * 63, "a" * 65, "z" * 64, " " + "a" * 63, "é" * 64])
def test_malformed_keys_verify_to_nothing(storage: Storage, candidate: str) -> None:
    assert verify_key(storage, candidate) is None


def test_unknown_key_verifies_to_nothing(storage: Storage) -> None:
    create_key(storage)
    assert verify_key(storage, "ab" * 32) is None


def test_fixed_key_and_instance(storage: Storage) -> None:
    key = create_key(storage, "12345678-1234-4234-8234-123456789abc", key="AB" * 32)
    assert ("ab" * 32, UUID("12345678-1234-4234-8234-123456789abc")) == (key.key, key.instance_id)
    assert key.instance_id == verify_key(storage, "ab" * 32)


def test_create_key_rejects_bad_input(storage: Storage) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal"):
        create_key(storage, key="short")
    with pytest.raises(ValueError, match="badly formed"):
        create_key(storage, "not-a-uuid")


def test_key_lifecycle(storage: Storage) -> None:
    """Listed oldest first with their instance and label; touched; revoked once (a second revoke changes nothing)."""
    first, second = uuid4(), uuid4()
    storage.add_key("a1" * 32, first, "one")
    storage.add_key("b2" * 32, second)
    assert [("a1" * 32, first, "one"), ("b2" * 32, second, None)] == [
        (record.key_sha256, record.instance_id, record.label) for record in storage.list_keys()
    ]
    storage.touch_key("a1" * 32, NOW)
    record = storage.find_key("a1" * 32)
    assert record is not None
    assert (NOW, None, False) == (record.last_used_at, record.revoked_at, record.revoked)
    assert record.created_at.tzinfo is not None
    assert 2 == storage.revoke_keys(["a1" * 32, "b2" * 32, "c3" * 32], NOW)
    assert 0 == storage.revoke_keys(["a1" * 32], datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert [NOW, NOW] == [record.revoked_at for record in storage.list_keys()]
    assert storage.find_key("c3" * 32) is None


# -- events -----------------------------------------------------------------------------------------------------------


def test_insert_reports_duplicates_and_stores_the_rest(storage: Storage) -> None:
    first, second = event(), event()
    assert [True, True, False] == storage.insert_events([first, second, first], NOW)
    assert [False, True] == storage.insert_events([second, event()], NOW)
    assert 3 == storage.count_events()


def test_a_failed_insert_stores_nothing(storage: Storage) -> None:
    """The batch is one transaction: an error half-way rolls back what came before."""
    good = event()
    broken = event()
    broken.model = None  # type: ignore[assignment]  # NOT NULL: fails inside the transaction
    with pytest.raises(database_errors()):
        storage.insert_events([good, broken], NOW)
    assert 0 == storage.count_events()
    assert [True] == storage.insert_events([good], NOW)


def test_a_batch_larger_than_one_statement_is_stored_whole(storage: Storage) -> None:
    """3,000 events (27 values each: more than PostgreSQL's 65,535 bound parameters in one statement) with repeats
    far apart in the batch: one result per event in input order, each repeat a duplicate of its first occurrence
    (or of the event stored before), every new event stored once."""
    instance = uuid4()
    earlier = TaskCompletionEvent.model_validate(wire_event(instance))
    assert [True] == storage.insert_events([earlier], NOW)
    fresh = [TaskCompletionEvent.model_validate(wire_event(instance)) for _ in range(3_000)]
    batch, expected = [], []
    for position, new in enumerate(fresh):
        batch.append(new)
        expected.append(True)
        if position in (600, 1_700, 2_999):
            batch += [fresh[0], earlier, fresh[position // 2]]
            expected += [False, False, False]
    assert expected == storage.insert_events(batch, NOW)
    assert 3_001 == storage.count_events()
    assert [fresh[0], fresh[-1]] == [storage.fetch_event(e.instance_id, e.event_id) for e in (fresh[0], fresh[-1])]
    assert [False] * 3_000 == storage.insert_events(fresh, NOW)


def test_a_large_batch_failing_at_its_end_stores_nothing(storage: Storage) -> None:
    """However many statements a batch takes, it is one transaction."""
    instance = uuid4()
    batch = [TaskCompletionEvent.model_validate(wire_event(instance)) for _ in range(3_000)]
    last_key = "ffffffff-ffff-4fff-bfff-ffffffffffff"
    broken = TaskCompletionEvent.model_validate(wire_event(instance, event_id=last_key))
    broken.model = None  # type: ignore[assignment]  # NOT NULL: fails inside the transaction
    with pytest.raises(database_errors()):
        storage.insert_events([*batch, broken], NOW)
    assert 0 == storage.count_events()


def test_fetch_event(storage: Storage) -> None:
    stored = event(quality_gates_failed=["lint"], repo_size_category="tiny")
    storage.insert_events([stored], NOW)
    assert stored == storage.fetch_event(stored.instance_id, stored.event_id)
    assert storage.fetch_event(stored.instance_id, uuid4()) is None
    assert storage.fetch_event(uuid4(), stored.event_id) is None  # another instance does not see it


def test_event_ids_are_unique_per_instance(storage: Storage) -> None:
    """Instance B's event with instance A's event_id is B's own event: stored, not a duplicate, each fetched apart."""
    mine = event(model="model-a")
    theirs = event(event_id=str(mine.event_id), model="model-b")
    assert mine.instance_id != theirs.instance_id
    assert [True] == storage.insert_events([mine], NOW)
    assert [True, False] == storage.insert_events([theirs, theirs], NOW)
    assert [False] == storage.insert_events([mine], NOW)
    assert (1, 1, 2) == (
        storage.count_events(mine.instance_id),
        storage.count_events(theirs.instance_id),
        storage.count_events(),
    )
    assert mine == storage.fetch_event(mine.instance_id, mine.event_id)
    assert theirs == storage.fetch_event(theirs.instance_id, mine.event_id)


def test_version_grows_with_stored_events_only(storage: Storage) -> None:
    with storage.reader() as reader:
        empty = reader.version()
    batch = [event() for _ in range(3)]
    storage.insert_events(batch, NOW)
    with storage.reader() as reader:
        after_insert = reader.version()
    storage.insert_events(batch, NOW)  # duplicates only: nothing stored
    with storage.reader() as reader:
        assert after_insert == reader.version()
    assert empty < after_insert


def test_order_statistics_by_rank_with_ties(storage: Storage) -> None:
    """Ranks are 1-based positions in the sorted group, ties included; ranks past the group are left out."""
    values = [7, 3, 3, 9, 1, 3, 12, 7]
    storage.insert_events([event(task_duration_ms=v, actual_output_tokens=100 - v) for v in values], NOW)
    with storage.reader() as reader:
        summary = reader.summarize(
            {"task_type": "implementation", "model": "claude-sonnet-4-5"},
            {"task_duration_ms": [1, 2, 4, 5, 8, 9], "actual_output_tokens": [1, 8]},
        )
    assert {1: 1, 2: 3, 4: 3, 5: 7, 8: 12} == summary.order_statistics["task_duration_ms"]
    assert {1: 88, 8: 99} == summary.order_statistics["actual_output_tokens"]
    assert (8, 8, 8) == (summary.sample_size, summary.gate_passed, summary.succeeded)


def test_reader_rejects_unknown_names(storage: Storage) -> None:
    with storage.reader() as reader:
        with pytest.raises(ValueError, match="unknown dimensions"):
            reader.count({"harness": "aider"})
        with pytest.raises(ValueError, match="unknown metric"):
            reader.summarize({}, {"retry_count": [1]})


def test_reader_counts_and_summarizes(storage: Storage) -> None:
    storage.insert_events([event(actual_input_tokens=v) for v in (30, 10, 20)], NOW)
    with storage.reader() as reader:
        assert 3 == reader.count({})
        assert 3 == reader.count({"task_type": "implementation", "provider": "anthropic"})
        assert 0 == reader.count({"task_type": "testing"})
        assert reader.version() > 0
        summary = reader.summarize({"task_type": "implementation"}, {"actual_input_tokens": [1, 2, 3]})
        assert {1: 10, 2: 20, 3: 30} == summary.order_statistics["actual_input_tokens"]
        empty = reader.summarize({"task_type": "testing"}, {"actual_input_tokens": [1]})
        assert (0, {}) == (empty.sample_size, empty.order_statistics["actual_input_tokens"])


def test_close_is_idempotent_and_final(storage: Storage) -> None:
    store = storage
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.insert_events([event()], NOW)
    with pytest.raises(RuntimeError, match="closed"):
        store.add_key("0" * 64, uuid4())


def test_file_storage_reads_in_parallel_with_writes(tmp_path: Path) -> None:
    """WAL: readers on their own pooled connections see consistent snapshots while the writer commits."""
    with SQLiteStorage(tmp_path / "wal.sqlite3") as store:
        assert "wal" == store._writer.execute("PRAGMA journal_mode").fetchone()[0]
        errors: list[BaseException] = []
        done = threading.Event()

        def read() -> None:
            try:
                while not done.is_set():
                    with store.reader() as reader:
                        count = reader.count({})
                        assert 0 == count % 50  # never half a batch
            except BaseException as error:  # reported below
                errors.append(error)

        readers = [threading.Thread(target=read) for _ in range(4)]
        for thread in readers:
            thread.start()
        for _ in range(20):
            store.insert_events([event() for _ in range(50)], NOW)
        done.set()
        for thread in readers:
            thread.join(10)
        assert [] == errors
        assert 1_000 == store.count_events()


def test_database_files_are_private(tmp_path: Path) -> None:
    """The database and its -wal/-shm files are created 0600 (owner only), whatever the umask lets through."""
    previous = os.umask(0o022)
    try:
        path = tmp_path / "private.sqlite3"
        with SQLiteStorage(path) as store:
            store.insert_events([event()], NOW)
            files = [path, tmp_path / "private.sqlite3-wal", tmp_path / "private.sqlite3-shm"]
            modes = {file.name: stat.S_IMODE(file.stat().st_mode) for file in files}
    finally:
        os.umask(previous)
    assert dict.fromkeys(modes, 0o600) == modes


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    """A file the operator created (or chmod-ed) is opened as it is: the storage only chooses the mode of new files."""
    path = tmp_path / "shared.sqlite3"
    path.touch(mode=0o640)
    path.chmod(0o640)
    with SQLiteStorage(path) as store:
        store.insert_events([event()], NOW)
    assert 0o640 == stat.S_IMODE(path.stat().st_mode)
