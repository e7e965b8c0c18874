"""The lines of a JSONL file of events, as ``send`` reads them: parsed, numbered, judged, and given stable ids.

**Idempotence.** A line without an ``event_id`` gets a deterministic one, so sending the same file twice stores
each event once (the second time the server answers ``duplicate``)::

    event_id = uuid5(SEND_NAMESPACE, f"{instance_id} {canonical}")

where ``instance_id`` is the line's instance id in canonical form (lowercase, hyphenated), ``canonical`` is the
line's JSON object re-encoded with sorted keys and no whitespace (``json.dumps(obj, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``), and :data:`SEND_NAMESPACE` is
``86e8b274-8ea3-4ec5-8cab-6291ad9ad4fb``. Identical lines are therefore one event, however they are spaced or
ordered; a line that names its own ``event_id`` keeps it. A line without a ``timestamp`` still gets the time it
is read (the id does not depend on it).

A bad line costs that line, never the run: its number and reason go to ``on_bad`` and into the
:class:`SendReport` (reasons cut at :data:`REASON_LIMIT` characters, a cut marked with "…").
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from uuid import UUID, uuid5

import attrs

from ..errors import ValidationError
from ..events import TaskCompletionEvent

__all__ = [
    "KEPT_BAD_LINES",
    "REASON_LIMIT",
    "SEND_NAMESPACE",
    "BadLine",
    "SendReport",
    "canonical_json",
    "cut",
    "line_event_id",
    "read_events",
]

#: The UUIDv5 namespace of the ids ``send`` gives lines without an ``event_id`` (see the module docstring).
SEND_NAMESPACE = UUID("86e8b274-8ea3-4ec5-8cab-6291ad9ad4fb")
#: Longest reason kept for a bad line (a longer one is cut and ends with "…").
REASON_LIMIT = 500
#: Bad lines listed in the report (``--json``'s ``errors``); beyond them only a count is kept.
KEPT_BAD_LINES = 10_000


def canonical_json(obj: Any) -> str:
    """``obj`` as JSON with sorted keys and no whitespace (non-ASCII kept as is)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def line_event_id(instance_id: UUID, line: dict[str, Any]) -> UUID:
    """The deterministic id of a line's event: a UUIDv5 over the instance id and the line's canonical JSON."""
    return uuid5(SEND_NAMESPACE, f"{instance_id} {canonical_json(line)}")


def cut(text: str, limit: int = REASON_LIMIT) -> str:
    """``text`` if it fits in ``limit`` characters, else its start ending with "…" (``limit`` in all)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@attrs.frozen
class BadLine:
    """A line that was skipped: its 1-based number and why."""

    line: int
    reason: str


@attrs.define
class SendReport:
    """What happened to a file's lines."""

    lines: int = 0
    blank: int = 0
    invalid: int = 0
    tracked: int = 0
    #: the line at which reading stopped because sending gave up
    stopped_at: int | None = None
    #: the first :data:`KEPT_BAD_LINES` bad lines, in order
    bad: list[BadLine] = attrs.Factory(list)

    @property
    def bad_omitted(self) -> int:
        """Bad lines counted but not listed in :attr:`bad`."""
        return self.invalid - len(self.bad)


def parse_line(line: bytes | str, *, instance_id: UUID | None) -> TaskCompletionEvent:
    """The event of one line, with its deterministic id when it names none; ``ValueError`` says what is wrong.

    With ``instance_id``, an event of another instance is refused (the server would refuse its whole batch).
    """
    try:
        data = json.loads(line)
    except ValueError as error:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        raise ValueError(f"invalid JSON: {error}") from None
    if isinstance(data, dict) and "event_id" not in data:
        with contextlib.suppress(ValueError):  # no usable instance_id: the model reports it
            data["event_id"] = line_event_id(UUID(str(data.get("instance_id"))), data)
    try:
        event = TaskCompletionEvent.model_validate(data)
    except ValidationError as error:
        raise ValueError("; ".join(error.errors)) from None
    if instance_id is not None and event.instance_id != instance_id:
        raise ValueError(
            f"instance_id={str(event.instance_id)!r} is not --instance-id {instance_id} "
            "(the server would refuse its batch)"
        )
    return event


def read_events(
    lines: Iterable[bytes],
    report: SendReport,
    *,
    instance_id: UUID | None,
    on_bad: Callable[[int, str], None],
) -> Iterator[tuple[int, TaskCompletionEvent]]:
    """The events of ``lines`` with their line numbers; bad lines go to ``on_bad`` and into ``report``."""
    for number, line in enumerate(lines, 1):
        report.lines = number
        if not line.strip():
            report.blank += 1
            continue
        try:
            event = parse_line(line, instance_id=instance_id)
        except Exception as error:  # whatever a line holds, it costs that line, never the run
            reason = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        else:
            yield number, event
            continue
        reason = cut(reason)
        report.invalid += 1
        if len(report.bad) < KEPT_BAD_LINES:
            report.bad.append(BadLine(number, reason))
        on_bad(number, reason)
