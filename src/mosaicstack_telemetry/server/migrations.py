"""The reference server's database schema as ordered, versioned migrations, and the runner that applies them at start.

Contract:

* A database records the migrations applied to it in the table ``schema_migrations`` (``version``, ``name``,
  ``applied_at``). :data:`SQLITE_MIGRATIONS` lists every migration in order, versions 1, 2, 3, …; a migration, once
  released, is never edited: a change to the schema is a new migration at the end.
* :func:`migrate` applies the missing ones, in order, each in its own transaction together with its row in
  ``schema_migrations``: a crash half-way leaves the database at the last complete version, and the next start goes
  on from there. It runs under ``BEGIN IMMEDIATE``, so two processes opening the same file (a server and ``keys
  create``) cannot both apply a migration; the second one sees it applied.
* A database whose recorded version is higher than the code knows raises :class:`SchemaTooNewError` before anything
  is written: older code must not write to a schema it does not understand.
* Databases from before the runner (created by the first schema, marked ``PRAGMA user_version = 1`` and without
  ``schema_migrations``) are upgraded in place: migration 1 is that schema, written ``IF NOT EXISTS``, so on them it
  changes nothing and is recorded as applied; the later ones run as on any database.

``PRAGMA user_version`` mirrors the latest applied version (a quick look with the ``sqlite3`` shell); the table is the
record. PostgreSQL has its own list with the same versions and the same contract, and its runner (an advisory lock
instead of ``BEGIN IMMEDIATE``) in :mod:`.pg_migrations`; both check their list and refuse a newer database here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone

import attrs

__all__ = [
    "SQLITE_MIGRATIONS",
    "Migration",
    "SchemaTooNewError",
    "check_order",
    "latest_version",
    "migrate",
    "refuse_newer",
    "schema_version",
]


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of the code: upgrade the package instead of opening it."""


@attrs.frozen
class Migration:
    """One step of the schema: ``statements`` run in order, in one transaction, recorded as ``version``."""

    version: int
    name: str
    statements: tuple[str, ...]


_DIMENSIONS_INDEX = """
CREATE INDEX IF NOT EXISTS events_by_dimensions ON events (
    task_type, provider, model, complexity,
    actual_input_tokens, actual_output_tokens, actual_cost_usd_micros, task_duration_ms,
    estimated_input_tokens, estimated_output_tokens, quality_gate_passed, outcome
)"""


def _events_table(name: str, key: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
    event_id TEXT NOT NULL,             -- canonical UUID string
    instance_id TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    timestamp TEXT NOT NULL,            -- ISO 8601, UTC
    received_at TEXT NOT NULL,          -- ISO 8601, UTC, server clock
    task_duration_ms INTEGER NOT NULL,
    task_type TEXT NOT NULL,            -- enum values, as on the wire
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
    quality_gates_run TEXT NOT NULL,    -- JSON array of gate values
    quality_gates_failed TEXT NOT NULL,
    context_compactions INTEGER NOT NULL,
    context_rotations INTEGER NOT NULL,
    context_utilization_final REAL NOT NULL,
    outcome TEXT NOT NULL,
    retry_count INTEGER NOT NULL,
    language TEXT,
    repo_size_category TEXT,
    {key}
)"""


_EVENT_COLUMNS = (
    "event_id, instance_id, schema_version, timestamp, received_at, task_duration_ms, task_type, complexity, harness,"
    " model, provider, estimated_input_tokens, estimated_output_tokens, actual_input_tokens, actual_output_tokens,"
    " estimated_cost_usd_micros, actual_cost_usd_micros, quality_gate_passed, quality_gates_run, quality_gates_failed,"
    " context_compactions, context_rotations, context_utilization_final, outcome, retry_count, language,"
    " repo_size_category"
)

#: Every migration of the SQLite schema, in order. Append only.
SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema: api keys, events unique by event_id, the dimensions index",
        (
            """CREATE TABLE IF NOT EXISTS api_keys (
                key_sha256 TEXT PRIMARY KEY,
                instance_id TEXT NOT NULL,
                label TEXT,
                created_at TEXT NOT NULL
            ) WITHOUT ROWID""",
            _events_table("events", "PRIMARY KEY (event_id)"),
            _DIMENSIONS_INDEX,
        ),
    ),
    Migration(
        2,
        "tenant isolation: an event_id is unique per instance, (instance_id, event_id)",
        (
            # SQLite cannot change a primary key in place: the documented rebuild (new table, copy, drop, rename).
            # rowids are copied too: they order events by arrival, which the storage's version() reads.
            _events_table("events_by_instance", "PRIMARY KEY (instance_id, event_id)"),
            f"INSERT INTO events_by_instance (rowid, {_EVENT_COLUMNS}) SELECT rowid, {_EVENT_COLUMNS} FROM events",  # noqa: S608
            "DROP TABLE events",
            "ALTER TABLE events_by_instance RENAME TO events",
            _DIMENSIONS_INDEX,
        ),
    ),
    Migration(
        3,
        "key management: when a key was last used, and revoked",
        (
            "ALTER TABLE api_keys ADD COLUMN last_used_at TEXT",  # ISO 8601, UTC; written at most once a minute
            "ALTER TABLE api_keys ADD COLUMN revoked_at TEXT",  # ISO 8601, UTC; NULL while the key is valid
        ),
    ),
)


def latest_version(migrations: Sequence[Migration] = SQLITE_MIGRATIONS) -> int:
    """The version a database has once every migration in ``migrations`` is applied."""
    return migrations[-1].version if migrations else 0


def schema_version(connection: sqlite3.Connection) -> int:
    """The highest version recorded in ``connection``'s database (0: none, a new or pre-runner database)."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return 0
    (version,) = connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(version)


def check_order(migrations: Sequence[Migration]) -> None:
    """Refuse a migration list not numbered 1, 2, 3, … in order."""
    versions = [migration.version for migration in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, ... in order, got {versions}")


def refuse_newer(current: int, latest: int, database: str) -> None:
    """Raise :class:`SchemaTooNewError` when the database's version ``current`` is beyond the code's ``latest``."""
    if current > latest:
        raise SchemaTooNewError(
            f"{database} has schema version {current}, newer than this code's {latest}:"
            " upgrade mosaicstack-telemetry to open it"
        )


def migrate(
    connection: sqlite3.Connection,
    migrations: Sequence[Migration] = SQLITE_MIGRATIONS,
    *,
    database: str = "the database",
) -> list[int]:
    """Bring ``connection``'s database up to the last of ``migrations``; return the versions applied now.

    ``connection`` must be in autocommit mode (``isolation_level=None``): each migration is one explicit transaction.

    :param database: how errors name the database (its path).
    :raises SchemaTooNewError: the database records a version beyond the last migration.
    """
    check_order(migrations)
    latest = latest_version(migrations)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied: list[int] = []
    while True:
        connection.execute("BEGIN IMMEDIATE")  # the write lock first: another process may be migrating too
        try:
            current = schema_version(connection)
            refuse_newer(current, latest, database)
            if current == latest:
                connection.execute("COMMIT")
                return applied
            migration = migrations[current]  # versions are 1..n in order: the next one
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(timezone.utc).isoformat()),
            )
            connection.execute(f"PRAGMA user_version = {int(migration.version)}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        applied.append(migration.version)
