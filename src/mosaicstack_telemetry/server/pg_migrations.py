"""The reference server's PostgreSQL schema as ordered, versioned migrations, and the runner that applies them.

The contract is :mod:`.migrations`' (the SQLite runner's), on PostgreSQL:

* the table ``schema_migrations`` (``version``, ``name``, ``applied_at``) records what was applied;
  :data:`POSTGRES_MIGRATIONS` has the same versions as the SQLite list, each frozen once released (native types:
  ``uuid``, ``timestamptz``, ``bigint``, ``boolean``, ``text[]`` for the gate lists, ``double precision``);
* :func:`migrate_postgres` applies the missing ones in order, each in one transaction with its record;
* every transaction of the runner first takes a transaction-level **advisory lock** (:data:`MIGRATION_LOCK`), so
  several processes starting at once (``serve --workers N``, a ``keys create`` beside them) apply each migration
  exactly once: the others wait, then see it applied;
* a database whose recorded version is beyond the code's raises :class:`~.migrations.SchemaTooNewError` before
  anything is written.

Besides the events and the keys, the schema holds ``event_versions``: a few counter rows (slots) that each insert
bumps, in its own transaction, by the number of events it stored. Their sum, read in a snapshot, grows with every
committed insert and only then — the storage's ``version()`` (a sequence or an identity column cannot serve: their
values are taken before commit, so a snapshot could miss an insert numbered below the highest value it sees). Several
slots keep concurrent inserts from queuing on one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import psycopg
from psycopg.rows import TupleRow

from .migrations import Migration, check_order, latest_version, refuse_newer

__all__ = ["MIGRATION_LOCK", "POSTGRES_MIGRATIONS", "VERSION_SLOTS", "migrate_postgres", "postgres_schema_version"]

#: The advisory lock key every migration transaction takes (``pg_advisory_xact_lock``): b"mosaicmg" as a bigint.
MIGRATION_LOCK = 7_885_648_334_766_173_543
#: Rows of ``event_versions`` (seeded 0 … 15 by migration 1: a change needs a migration, a test checks); an insert
#: bumps the one its connection's backend pid selects.
VERSION_SLOTS = 16

#: Every migration of the PostgreSQL schema, in order. Append only.
POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema: api keys, events unique by event_id, the dimensions index, the version counters",
        (
            """CREATE TABLE api_keys (
                key_sha256 text PRIMARY KEY,
                instance_id uuid NOT NULL,
                label text,
                created_at timestamptz NOT NULL
            )""",
            """CREATE TABLE events (
                instance_id uuid NOT NULL,
                event_id uuid NOT NULL,
                schema_version text NOT NULL,
                "timestamp" timestamptz NOT NULL,
                received_at timestamptz NOT NULL,
                task_duration_ms bigint NOT NULL,
                task_type text NOT NULL,
                complexity text NOT NULL,
                harness text NOT NULL,
                model text NOT NULL,
                provider text NOT NULL,
                estimated_input_tokens bigint NOT NULL,
                estimated_output_tokens bigint NOT NULL,
                actual_input_tokens bigint NOT NULL,
                actual_output_tokens bigint NOT NULL,
                estimated_cost_usd_micros bigint NOT NULL,
                actual_cost_usd_micros bigint NOT NULL,
                quality_gate_passed boolean NOT NULL,
                quality_gates_run text[] NOT NULL,
                quality_gates_failed text[] NOT NULL,
                context_compactions bigint NOT NULL,
                context_rotations bigint NOT NULL,
                context_utilization_final double precision NOT NULL,
                outcome text NOT NULL,
                retry_count bigint NOT NULL,
                language text,
                repo_size_category text,
                CONSTRAINT events_pkey PRIMARY KEY (event_id)
            )""",
            """CREATE INDEX events_by_dimensions ON events (
                task_type, provider, model, complexity,
                actual_input_tokens, actual_output_tokens, actual_cost_usd_micros, task_duration_ms,
                estimated_input_tokens, estimated_output_tokens, quality_gate_passed, outcome
            )""",
            "CREATE TABLE event_versions (slot integer PRIMARY KEY, events bigint NOT NULL)",
            "INSERT INTO event_versions (slot, events) SELECT generate_series(0, 15), 0",
        ),
    ),
    Migration(
        2,
        "tenant isolation: an event_id is unique per instance, (instance_id, event_id)",
        (
            "ALTER TABLE events DROP CONSTRAINT events_pkey,"
            " ADD CONSTRAINT events_pkey PRIMARY KEY (instance_id, event_id)",
        ),
    ),
    Migration(
        3,
        "key management: when a key was last used, and revoked",
        (
            "ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz",  # written at most once a minute
            "ALTER TABLE api_keys ADD COLUMN revoked_at timestamptz",  # NULL while the key is valid
        ),
    ),
)

_CREATE_RECORD = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
)


def postgres_schema_version(connection: psycopg.Connection[TupleRow]) -> int:
    """The highest version recorded in ``connection``'s database (0: none, a new database)."""
    row = connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    row = connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return 0 if row is None else int(row[0])


def migrate_postgres(
    connection: psycopg.Connection[TupleRow],
    migrations: Sequence[Migration] = POSTGRES_MIGRATIONS,
    *,
    database: str = "the database",
) -> list[int]:
    """Bring ``connection``'s database up to the last of ``migrations``; return the versions applied now.

    ``connection`` must be in autocommit mode: each migration is one explicit transaction.

    :param database: how errors name the database (its URL, without password).
    :raises SchemaTooNewError: the database records a version beyond the last migration.
    """
    check_order(migrations)
    latest = latest_version(migrations)
    applied: list[int] = []
    while True:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            current = postgres_schema_version(connection)
            refuse_newer(current, latest, database)
            if current == latest:
                return applied
            connection.execute(_CREATE_RECORD)
            migration = migrations[current]  # versions are 1..n in order: the next one
            for statement in migration.statements:
                connection.execute(statement.encode())  # bytes: frozen literal DDL, not a composed query
            connection.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.name, datetime.now(timezone.utc)),
            )
        applied.append(migration.version)
