"""One OTLP log record, decoded from either encoding into the shape the mapping reads."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["LogRecord"]


@attrs.frozen(slots=True)
class LogRecord:
    """A log record with its scope and resource. Attribute values are plain Python (:mod:`.values`).

    ``time_unix_nano`` is the record's time, else its observed time, else 0 (unknown). ``event_name`` is the
    protobuf/JSON ``eventName`` field (OTLP ≥1.5), ``body`` the body when it is a string.
    """

    time_unix_nano: int
    event_name: str | None
    body: str | None
    attributes: dict[str, Any]
    scope_name: str
    resource: dict[str, Any]
