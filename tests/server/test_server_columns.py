"""The ``events`` table's columns come from the model: the frozen migrations must build exactly those columns."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timezone
from uuid import UUID

import attrs

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.server.columns import COLUMN_NAMES, EVENT_COLUMNS, Kind, event_from_values, event_values
from mosaicstack_telemetry.server.migrations import migrate
from tests.models._support import full_event as sample_event

#: The SQLite type each kind is stored as (timestamps as ISO 8601 text, gate lists as JSON text).
_SQLITE_TYPES = {
    Kind.UUID: "TEXT",
    Kind.TEXT: "TEXT",
    Kind.TIMESTAMP: "TEXT",
    Kind.INTEGER: "INTEGER",
    Kind.BOOLEAN: "INTEGER",
    Kind.REAL: "REAL",
    Kind.GATES: "TEXT",
}


def test_every_model_field_is_a_column_and_received_at_follows_timestamp() -> None:
    fields = [field.name for field in attrs.fields(TaskCompletionEvent)]
    assert [name for name in COLUMN_NAMES if name != "received_at"] == fields
    assert COLUMN_NAMES.index("received_at") == COLUMN_NAMES.index("timestamp") + 1
    nullable = {column.name for column in EVENT_COLUMNS if column.nullable}
    assert nullable == {"language", "repo_size_category"}


def test_the_migrated_sqlite_table_has_exactly_the_model_columns() -> None:
    with contextlib.closing(sqlite3.connect(":memory:", isolation_level=None)) as connection:
        migrate(connection)
        table = {row[1]: (row[2], not row[3]) for row in connection.execute("PRAGMA table_info(events)")}
    expected = {column.name: (_SQLITE_TYPES[column.kind], column.nullable) for column in EVENT_COLUMNS}
    assert table == expected


def test_values_round_trip_to_the_same_event() -> None:
    event = sample_event()
    received = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    values = dict(zip(COLUMN_NAMES, event_values(event, received), strict=True))
    assert values["received_at"] == received
    assert isinstance(values["event_id"], UUID)
    assert values["task_type"] == event.task_type.value
    assert values["quality_gates_run"] == [gate.value for gate in event.quality_gates_run]
    assert event_from_values(values) == event


def test_stored_text_forms_are_read_back() -> None:
    """What a backend stores as text (UUIDs, timestamps) is read back by the model's own converters."""
    event = sample_event()
    values = dict(zip(COLUMN_NAMES, event_values(event, datetime.now(timezone.utc)), strict=True))
    values.update(
        event_id=str(event.event_id), instance_id=str(event.instance_id), timestamp=event.timestamp.isoformat()
    )
    assert event_from_values(values) == event
