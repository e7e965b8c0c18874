"""The batch types of ``POST /v1/events/batch``: the request the client sends and the reply it reads.

Each field carries a docstring (below it) for the API reference; the ``attrs.field(...)`` that builds it holds the
validation rule and is not part of the documented interface.
"""

from __future__ import annotations

from uuid import UUID

import attrs

from ._converters import to_uuid
from ._model import Model
from ._rules import IntRange, IsUUID, ListOf, Nested, Text, rule
from ._schema import schema
from .events import TaskCompletionEvent

__all__ = ["MAX_BATCH_SIZE", "BatchEventRequest", "BatchEventResponse", "BatchEventResult"]

#: The most events one request may carry (the server's limit).
MAX_BATCH_SIZE = 100


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class BatchEventRequest(Model):
    """The request body: 1–100 events."""

    events: list[TaskCompletionEvent] = attrs.field(
        metadata=rule(ListOf(Nested(TaskCompletionEvent), 1, MAX_BATCH_SIZE))
    )
    """The events, 1 to :data:`MAX_BATCH_SIZE` (100)."""


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class BatchEventResult(Model):
    """The server's verdict on one event."""

    event_id: UUID = attrs.field(converter=to_uuid, metadata=rule(IsUUID()))
    """The event's id (the reference server answers the nil UUID for an event whose id it could not read)."""
    status: str = attrs.field(metadata=rule(Text(1, 50)))
    """``"accepted"`` (stored now) or ``"rejected"``."""
    error: str | None = attrs.field(default=None, metadata=rule(Text(optional=True)))
    """Why it was rejected — ``"duplicate"`` when the server already stored this ``event_id`` (the client counts
    that as delivered), else the validation errors — or ``None``."""


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class BatchEventResponse(Model):
    """The reply: how many events were accepted and rejected, and each event's result."""

    accepted: int = attrs.field(metadata=rule(IntRange(0, MAX_BATCH_SIZE)))
    """How many events were stored."""
    rejected: int = attrs.field(metadata=rule(IntRange(0, MAX_BATCH_SIZE)))
    """How many were not (invalid, or duplicates of stored events)."""
    results: list[BatchEventResult] = attrs.field(factory=list, metadata=rule(ListOf(Nested(BatchEventResult))))
    """Each event's :class:`BatchEventResult`, in request order."""
