"""One log record to a :class:`Mapped` fact: the few numbers a task needs, and nothing a user typed.

:func:`extract` reads a record through its :class:`~.harness.HarnessTable`. What it keeps is numbers, names and
flags; the prompt text (used only to infer a task type, when asked), the tool parameters (used only to classify a
shell command into quality gates) and any error text are read and dropped here, never stored or forwarded.
:func:`identity` is the record's once-only key (exporter retries re-send identical records).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import attrs

from ..enums import QualityGate, TaskType
from ..llm.task_types import infer_task_type
from .gates import gates_of
from .harness import HarnessTable, Kind
from .records import LogRecord
from .values import MalformedValueError, as_bool, as_decimal, as_int

__all__ = ["Mapped", "extract", "identity"]


@attrs.frozen(slots=True, kw_only=True)
class Mapped:
    """What one mapped record contributes to its prompt. ``order`` sorts records of a session in time."""

    kind: Kind
    session: str
    prompt_id: str | None
    time_unix_nano: int
    sequence: int
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal | None = None
    cost_usd_micros: int | None = None
    attempt: int = 1
    success: bool = True
    gates: tuple[QualityGate, ...] = ()
    task_type: TaskType | None = None

    @property
    def order(self) -> tuple[int, int]:
        return (self.time_unix_nano, self.sequence)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(attributes: dict[str, Any], key: str) -> int:
    if not key:
        return 0
    value = as_int(attributes.get(key), key)
    if value is not None and value < 0:
        raise MalformedValueError(f"{key} must not be negative, got {value}")
    return value or 0


def _command(table: HarnessTable, attributes: dict[str, Any]) -> str | None:
    parameters = attributes.get(table.tool_parameters)
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters)
        except ValueError:
            return None
    if not isinstance(parameters, dict):
        return None
    for key in table.command_keys:
        command = parameters.get(key)
        if isinstance(command, list) and all(isinstance(part, str) for part in command):
            command = " ".join(command)  # an argv (Codex: ["bash", "-lc", "pytest -q"])
        if isinstance(command, str) and command.strip():
            return command
    return None


def extract(table: HarnessTable, kind: Kind, record: LogRecord, *, infer_task: bool = False) -> Mapped:
    """The :class:`Mapped` fact of ``record`` (whose event is ``kind``); :class:`MalformedValueError` if unreadable."""
    attributes = record.attributes
    session = _text(attributes.get(table.session)) or ""
    sequence = as_int(attributes.get(table.sequence), table.sequence)
    common: dict[str, Any] = {
        "kind": kind,
        "session": session,
        "prompt_id": _text(attributes.get(table.prompt_id)),
        "time_unix_nano": record.time_unix_nano,
        "sequence": -1 if sequence is None else sequence,
    }
    if kind is Kind.PROMPT:
        task_type = None
        if infer_task:
            text = _text(attributes.get(table.prompt_text))
            if text is not None and text not in (table.redacted, "<REDACTED>"):
                task_type = infer_task_type(system_prompt=text)
        return Mapped(**common, task_type=task_type)
    if kind is Kind.REQUEST:
        micros = as_int(attributes.get(table.cost_usd_micros), table.cost_usd_micros)
        cost = as_decimal(attributes.get(table.cost_usd), table.cost_usd)
        if (cost is not None and cost < 0) or (micros is not None and micros < 0):
            raise MalformedValueError(f"{table.cost_usd} must not be negative")
        return Mapped(
            **common,
            model=_text(attributes.get(table.model)),
            input_tokens=sum(_count(attributes, key) for key in table.input_tokens),
            output_tokens=sum(_count(attributes, key) for key in table.output_tokens),
            cache_read_tokens=_count(attributes, table.cache_read_tokens),
            cache_write_tokens=_count(attributes, table.cache_write_tokens),
            cost_usd=cost,
            cost_usd_micros=micros,
        )
    if kind is Kind.ERROR:
        attempt = as_int(attributes.get(table.attempt), table.attempt)
        model = _text(attributes.get(table.error_model)) or _text(attributes.get(table.model))
        return Mapped(**common, model=model, attempt=max(1, attempt or 1))
    if kind is Kind.TOOL:
        success = as_bool(attributes.get(table.tool_success), table.tool_success)
        gates: tuple[QualityGate, ...] = ()
        tool = attributes.get(table.tool_name)
        if isinstance(tool, str) and tool in table.shell_tools:
            command = _command(table, attributes)
            gates = tuple(gates_of(command)) if command else ()
        return Mapped(**common, success=success is not False, gates=gates)
    return Mapped(**common)


def identity(table: HarnessTable, name: str, record: LogRecord) -> int:
    """The record's once-only key: a 64-bit hash of (harness, session, sequence, name, time) when it has both ids,
    else of its time, name and every attribute. Kept as an int (a window of many thousands costs little); a false
    match among 200,000 remembered keys has odds of about 1 in 10¹⁴ per record."""
    attributes = record.attributes
    session, sequence = attributes.get(table.session), attributes.get(table.sequence)
    if session is not None and sequence is not None:
        return hash((table.prefix, str(session), str(sequence), name, record.time_unix_nano))
    digest = hashlib.blake2b(
        repr(
            (table.prefix, record.time_unix_nano, name, sorted(attributes.items(), key=lambda item: item[0]))
        ).encode(),
        digest_size=8,
    ).digest()
    return int.from_bytes(digest, "big")
