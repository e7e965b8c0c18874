"""The migration runner: new databases, databases from before the runner upgraded in place, newer ones refused."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.server import SQLiteStorage, create_key, hash_key, verify_key
from mosaicstack_telemetry.server.migrations import (
    SQLITE_MIGRATIONS,
    Migration,
    SchemaTooNewError,
    latest_version,
    migrate,
    schema_version,
)

from ._server_support import wire_event

NOW = datetime(2026, 2, 1, tzinfo=timezone.utc)

#: The schema exactly as the storage created it before the migration runner (release 0.x): event ids unique across
#: every instance, the version in ``PRAGMA user_version`` only.
PRE_RUNNER_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_sha256 TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    received_at TEXT NOT NULL,
    task_duration_ms INTEGER NOT NULL,
    task_type TEXT NOT NULL,
    complexity TEXT NOT NULL,
    harness TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    estimated_input_tokens INTEGER NOT NULL,
    estimated_output_tokens INTEGER NOT NULL,
    actual_input_tokens INTEGER NOT NULL,
    actual_output_tokens INTEGER NOT NULL,
    estimated_cost_usd_micros INTEGER NOT NULL,
    actual_cost_usd_micros INTEGER NOT NULL,
    quality_gate_passed INTEGER NOT NULL,
    quality_gates_run TEXT NOT NULL,
    quality_gates_failed TEXT NOT NULL,
    context_compactions INTEGER NOT NULL,
    context_rotations INTEGER NOT NULL,
    context_utilization_final REAL NOT NULL,
    outcome TEXT NOT NULL,
    retry_count INTEGER NOT NULL,
    language TEXT,
    repo_size_category TEXT
);

CREATE INDEX IF NOT EXISTS events_by_dimensions ON events (
    task_type, provider, model, complexity,
    actual_input_tokens, actual_output_tokens, actual_cost_usd_micros, task_duration_ms,
    estimated_input_tokens, estimated_output_tokens, quality_gate_passed, outcome
);

PRAGMA user_version = 1;
"""

KEY = "ab" * 32
KEY_SHA256 = "0f" * 32


def legacy_event(instance_id: UUID, index: int) -> tuple[object, ...]:
    """A row as the pre-runner storage wrote it."""
    return (
        str(uuid4()), str(instance_id), "1.0", "2026-01-15T12:00:00+00:00", "2026-01-15T12:00:01+00:00",
        1_000 + index, "implementation", "medium", "aider", "claude-sonnet-4-5", "anthropic",
        5_000, 2_000, 5_000 + index, 1_800, 50_000, 48_000, 1, '["lint"]', "[]", 0, 0, 0.5, "success", 0,
        "python", None,
    )  # fmt: skip


def make_pre_runner_database(path: Path, instance_id: UUID, events: int) -> list[str]:
    """A database file written by the pre-runner schema, with a key of ``instance_id`` and ``events`` events."""
    with sqlite3.connect(path) as connection:
        connection.executescript(PRE_RUNNER_SCHEMA)
        connection.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?)", (hash_key(KEY), str(instance_id), "old", NOW.isoformat())
        )
        rows = [legacy_event(instance_id, index) for index in range(events)]
        connection.executemany(f"INSERT INTO events VALUES ({', '.join('?' * 27)})", rows)  # noqa: S608
    connection.close()
    return [str(row[0]) for row in rows]


def applied(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    connection.close()
    return [(int(version), str(name)) for version, name in rows]


def primary_key(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        columns = connection.execute("PRAGMA table_info(events)").fetchall()
    connection.close()
    return [name for _, name, _, _, _, pk in sorted(columns, key=lambda column: column[5]) if pk]


def test_a_new_database_gets_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with SQLiteStorage(path):
        pass
    assert [(m.version, m.name) for m in SQLITE_MIGRATIONS] == applied(path)
    assert ["instance_id", "event_id"] == primary_key(path)
    with sqlite3.connect(path) as connection:
        assert latest_version() == connection.execute("PRAGMA user_version").fetchone()[0]
    connection.close()


def test_a_pre_runner_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """Rows, keys and arrival order survive; ids become unique per instance; a second open applies nothing."""
    path = tmp_path / "old.db"
    instance = uuid4()
    ids = make_pre_runner_database(path, instance, events=25)
    with sqlite3.connect(path) as connection:
        old_version = connection.execute("SELECT max(rowid) FROM events").fetchone()[0]
    connection.close()
    assert ["event_id"] == primary_key(path)

    with SQLiteStorage(path) as storage:
        assert 25 == storage.count_events(instance)
        first = storage.fetch_event(instance, UUID(ids[0]))
        assert first is not None
        assert (1_000, ["lint"]) == (first.task_duration_ms, [gate.value for gate in first.quality_gates_run])
        assert instance == verify_key(storage, KEY)
        with storage.reader() as reader:
            assert old_version == reader.version()
        # The old rule is gone: another instance may now use an id the first one used.
        other = TaskCompletionEvent.model_validate(wire_event(uuid4(), event_id=ids[0]))
        assert [True] == storage.insert_events([other], NOW)
        assert 26 == storage.count_events()
    assert [(m.version, m.name) for m in SQLITE_MIGRATIONS] == applied(path)
    assert ["instance_id", "event_id"] == primary_key(path)

    with sqlite3.connect(path) as connection:
        assert [] == migrate(connection)
    connection.close()


def test_a_database_newer_than_the_code_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with SQLiteStorage(path) as storage:
        create_key(storage, key=KEY)
    newer = latest_version() + 1
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', '2030-01-01')", (newer,))
    connection.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError) as raised:
        SQLiteStorage(path)
    assert (
        f"the database {str(path)!r} has schema version {newer}, newer than this code's {latest_version()}:"
        " upgrade mosaicstack-telemetry to open it"
    ) == str(raised.value)
    assert before == path.read_bytes()


def test_a_failing_migration_leaves_the_last_complete_version(tmp_path: Path) -> None:
    """Each migration is one transaction with its record: a failure half-way rolls back that migration only."""
    broken = (
        Migration(1, "one", ("CREATE TABLE a (x)",)),
        Migration(2, "two", ("CREATE TABLE b (x)", "INSERT INTO no_such_table VALUES (1)")),
    )
    connection = sqlite3.connect(tmp_path / "broken.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        migrate(connection, broken)
    assert 1 == schema_version(connection)
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"a", "schema_migrations"} == tables
    assert [2] == migrate(connection, (broken[0], Migration(2, "two", ("CREATE TABLE b (x)",))))
    connection.close()


@pytest.mark.parametrize("versions", [(2,), (1, 3), (2, 1), (1, 1)])
def test_migrations_must_be_numbered_in_order(versions: tuple[int, ...]) -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        migrate(connection, [Migration(version, "m", ()) for version in versions])
    connection.close()


def test_concurrent_opens_migrate_once(tmp_path: Path) -> None:
    """Two storages opening a new file at once (a server and `keys create`): both open, each migration applied once."""
    path = tmp_path / "race.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_it() -> None:
        try:
            barrier.wait(5)
            with SQLiteStorage(path) as storage:
                storage.count_events()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [] == errors
    assert [(m.version, m.name) for m in SQLITE_MIGRATIONS] == applied(path)
