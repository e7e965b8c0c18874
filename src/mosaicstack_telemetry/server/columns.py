"""The ``events`` table's columns, derived once from :class:`~mosaicstack_telemetry.TaskCompletionEvent`.

Every field of the model is one column of the same name, in the model's order, with ``received_at`` (the server's
clock when it stored the event) after ``timestamp``. A column's :class:`Kind` says what Python value it holds;
each backend maps kinds to its own SQL types and encodes values it cannot take as they are.

* :func:`event_values` gives one event's values in :data:`EVENT_COLUMNS` order as plain Python values (UUID,
  aware UTC datetime, int, bool, float, str — the enums' wire values —, a list of gate values, or ``None``);
* :func:`event_from_values` builds the model back from a mapping of column name to value, stored forms included
  (UUIDs and timestamps as text, gates as a list of values): the model's own converters read them.

The migrations that create the table are frozen DDL, not built from this list: a released migration never changes
when the model does. The storage tests check that the migrated table has exactly these columns.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import attrs

from ..events import TaskCompletionEvent

__all__ = ["COLUMN_NAMES", "EVENT_COLUMNS", "Column", "Kind", "event_from_values", "event_values"]


class Kind(enum.Enum):
    """What a column holds, as a Python value."""

    UUID = "uuid"
    TEXT = "text"  # a string, or an enum's wire value
    TIMESTAMP = "timestamp"  # an aware datetime, UTC
    INTEGER = "integer"
    BOOLEAN = "boolean"
    REAL = "real"
    GATES = "gates"  # a list of quality gate values


@attrs.frozen
class Column:
    name: str
    kind: Kind
    nullable: bool


_KINDS: Mapping[object, Kind] = {
    UUID: Kind.UUID,
    str: Kind.TEXT,
    datetime: Kind.TIMESTAMP,
    int: Kind.INTEGER,
    bool: Kind.BOOLEAN,
    float: Kind.REAL,
}


def _column(name: str, annotation: Any) -> Column:
    arguments = typing.get_args(annotation)
    nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in arguments
    if nullable:
        (annotation,) = (argument for argument in arguments if argument is not type(None))
    if typing.get_origin(annotation) is list:
        return Column(name, Kind.GATES, nullable)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Column(name, Kind.TEXT, nullable)
    return Column(name, _KINDS[annotation], nullable)


def _event_columns() -> tuple[Column, ...]:
    hints = typing.get_type_hints(TaskCompletionEvent)
    columns: list[Column] = []
    for field in attrs.fields(TaskCompletionEvent):
        columns.append(_column(field.name, hints[field.name]))
        if field.name == "timestamp":
            columns.append(Column("received_at", Kind.TIMESTAMP, nullable=False))
    return tuple(columns)


#: The ``events`` table's columns, in order.
EVENT_COLUMNS: tuple[Column, ...] = _event_columns()
#: Their names, in the same order.
COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in EVENT_COLUMNS)

_FIELD_NAMES = tuple(field.name for field in attrs.fields(TaskCompletionEvent))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return value


def event_values(event: TaskCompletionEvent, received_at: datetime) -> tuple[Any, ...]:
    """``event``'s values in :data:`EVENT_COLUMNS` order, stored at ``received_at``."""
    values = {name: _plain(getattr(event, name)) for name in _FIELD_NAMES}
    values["received_at"] = received_at.astimezone(timezone.utc)
    return tuple(values[name] for name in COLUMN_NAMES)


def event_from_values(values: Mapping[str, Any]) -> TaskCompletionEvent:
    """The event a stored row holds (``received_at`` and any column not of the model are ignored)."""
    return TaskCompletionEvent(**{name: values[name] for name in _FIELD_NAMES})
