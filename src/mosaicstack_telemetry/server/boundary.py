"""The server's JSON boundary: request bytes → decoded JSON → judged events, one strict behaviour with or without
``orjson``.

Everything here is blocking, pure CPU work; :mod:`.app` runs it off the event loop. The rules, each in one place:

**Bytes.** ``Content-Encoding`` ``identity`` (or none) or ``gzip``; gzip is inflated to at most the body limit (413
beyond it, 400 for a broken stream); any other coding is 415 — a body is never read as something it is not. The
(inflated) body must be UTF-8 without a byte order mark (else 400): no UTF-16, no BOM, whichever parser runs.

**JSON** (:func:`loads`; orjson when installed, else :mod:`json` made to agree with it): ``NaN``/``Infinity`` and
escaped lone surrogates are 400; an integer within 64 bits stays an integer, a larger one becomes a float, and a
number beyond a double's range is 400.

**Types on the wire** (:func:`wire_problems`), stricter than the Python models, which stay as lax as the original
SDK's so that drop-in code keeps working: an integer field takes only a JSON integer (``1.0`` and ``1e-400`` are
refused, not rounded), a list field only a JSON array (not an object's keys), a date-time only an RFC 3339 string
with ASCII digits (``2026-01-15T12:00:00Z``, the offset optional: naive means UTC; no week dates, no ordinal
dates, no basic format). The checks come from the models' own field rules (:mod:`mosaicstack_telemetry._schema`).

**Events** (:func:`judge`): each element of ``events`` is judged on its own, never raising; a rejected event's
error lines name the field and value, as the model's validation does.
"""

from __future__ import annotations

import json
import logging
import math
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import attrs

from .. import _wire
from .._rules import DateTime, EnumList, FloatRange, IntRange, Rule, field_rules, short_repr
from ..errors import ValidationError
from ..events import TaskCompletionEvent

__all__ = [
    "NIL_UUID",
    "RFC3339_PATTERN",
    "SCHEMA_VERSION_PATTERN",
    "BodyError",
    "Verdict",
    "batch_items",
    "decode_content",
    "judge",
    "loads",
    "wire_problems",
]

logger = logging.getLogger("mosaicstack_telemetry.server")

#: The ``event_id`` reported for an event whose own id cannot be read.
NIL_UUID = UUID(int=0)

_BOM = b"\xef\xbb\xbf"
#: The ``schema_version`` values the server reads (1.x, ASCII digits), anchored (as the OpenAPI document says it).
SCHEMA_VERSION_PATTERN = r"^1(\.[0-9]+)?$"
#: A date-time on the wire: RFC 3339 with ASCII digits, the offset optional (naive means UTC), anchored.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
_SUPPORTED_SCHEMA = re.compile(SCHEMA_VERSION_PATTERN)
_RFC3339 = re.compile(RFC3339_PATTERN)
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


class BodyError(Exception):
    """The body cannot be read: answered with ``status`` and ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# -- bytes ------------------------------------------------------------------------------------------------------------


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body with its ``Content-Encoding`` undone: identity, or gzip inflated to at most ``limit`` bytes.

    :raises BodyError: 415 for another coding, 413 when the inflated body exceeds ``limit``, 400 for broken gzip.
    """
    coding = (content_encoding or "").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "x-gzip"):
        raise BodyError(415, f"Content-Encoding {coding!r} is not supported (send identity or gzip)")
    out = bytearray()
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # one gzip member
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit:
                raise BodyError(413, f"the inflated request body exceeds {limit} bytes")
            if not inflater.eof:
                raise BodyError(400, "invalid gzip body: truncated")
            data = inflater.unused_data
    except zlib.error as error:
        raise BodyError(400, f"invalid gzip body: {error}") from None
    return bytes(out)


# -- JSON -------------------------------------------------------------------------------------------------------------


def _parse_int(text: str) -> int | float:
    # orjson's rule: a 64-bit integer stays one, a larger one is read as a double (length first: int() of a huge
    # string is quadratic, and limited to 4,300 digits from Python 3.11).
    if len(text) <= 20:
        number = int(text)
        if _INT64_MIN <= number <= _UINT64_MAX:
            return number
    return _parse_float(text)


def _parse_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"number {short_repr(text, 40)} is infinity when parsed as double")
    return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STDLIB_DECODER = json.JSONDecoder(
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_refuse_constant,
)


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(_has_surrogate(key) or _has_surrogate(item) for key, item in value.items())
    return False


def loads(body: bytes) -> Any:
    """Decode a request body under the rules above.

    :raises BodyError: 400 naming what is wrong.
    """
    if body.startswith(_BOM):
        raise BodyError(400, "invalid JSON: the body starts with a byte order mark (send UTF-8 without one)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(400, f"invalid JSON: the body is not UTF-8 (byte {error.start})") from None
    fast = _wire.orjson
    try:
        if fast is not None:
            return fast.loads(text)
        data = _STDLIB_DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        raise BodyError(400, f"invalid JSON: {error}") from None
    if _LONE_SURROGATE_ESCAPE.search(text) and _has_surrogate(data):
        raise BodyError(400, "invalid JSON: a \\u escape encodes a lone surrogate")
    return data


# -- types on the wire ------------------------------------------------------------------------------------------------


def _integer(value: Any) -> str | None:
    return None if value.__class__ is int else "is not an integer (a JSON integer, without fraction or exponent)"


def _number(value: Any) -> str | None:
    return None if value.__class__ in (int, float) else "is not a number"


def _array(value: Any) -> str | None:
    return None if value.__class__ is list else "is not a list"


def _date_time(value: Any) -> str | None:
    if value.__class__ is str and _RFC3339.fullmatch(value):
        return None
    return "is not an RFC 3339 date-time (2026-01-15T12:00:00Z)"


def _wire_check(rule: Rule) -> Callable[[Any], str | None] | None:
    """The wire's stricter test for a field rule, when it has one (the other rules take JSON types only already)."""
    if isinstance(rule, IntRange):
        return _integer
    if isinstance(rule, FloatRange):
        return _number
    if isinstance(rule, EnumList):
        return _array
    if isinstance(rule, DateTime):
        return _date_time
    return None


def _wire_checks(cls: type[Any]) -> tuple[tuple[str, bool, Callable[[Any], str | None]], ...]:
    checks = []
    for name, rule in field_rules(cls).items():
        check = _wire_check(rule)
        if check is not None:
            checks.append((name, rule.optional, check))
    return tuple(checks)


_EVENT_CHECKS = _wire_checks(TaskCompletionEvent)


def wire_problems(
    item: Mapping[str, Any], checks: tuple[tuple[str, bool, Callable[[Any], str | None]], ...] = _EVENT_CHECKS
) -> list[str]:
    """What the wire refuses in ``item`` (an event's JSON object) although the Python model would convert it."""
    problems = []
    for name, optional, check in checks:
        if name not in item:
            continue
        value = item[name]
        if value is None and optional:
            continue
        problem = check(value)
        if problem is not None:
            problems.append(f"{name}={short_repr(value)} {problem}")
    return problems


# -- envelopes and events ---------------------------------------------------------------------------------------------


def batch_items(data: Any, key: str, limit: int) -> list[Any]:
    """The list under ``key`` of a batch envelope, 1 to ``limit`` items.

    :raises BodyError: 422 for another shape or size.
    """
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise BodyError(422, f'expected a JSON object {{"{key}": [...]}}')
    items: list[Any] = data[key]
    if not 1 <= len(items) <= limit:
        raise BodyError(422, f"{key} must hold 1 to {limit} items, got {len(items)}")
    return items


@attrs.define
class Verdict:
    """One event judged: the model when valid, else the error; the ids as far as they could be read."""

    event: TaskCompletionEvent | None
    event_id: UUID
    #: as far as it could be read, for the key check (also from an otherwise invalid event)
    instance_id: UUID | None
    error: str | None = None


def _readable_uuid(value: Any) -> UUID | None:
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


def _server_checks(event: TaskCompletionEvent) -> str | None:
    """What the server refuses although the model accepts it."""
    if _SUPPORTED_SCHEMA.fullmatch(event.schema_version) is None:
        return f"schema_version={event.schema_version!r} is not supported (this server reads 1.x)"
    return None


def judge(item: Any) -> Verdict:
    """Validate one element of ``events``: the wire's types, then the package's own model; never raises."""
    if not isinstance(item, dict):
        kind = "null" if item is None else type(item).__name__
        return Verdict(None, NIL_UUID, None, f"expected an object, got {kind}")
    event_id = _readable_uuid(item.get("event_id")) or NIL_UUID
    instance_id = _readable_uuid(item.get("instance_id"))
    problems = wire_problems(item)
    try:
        event = _wire.structure(item, TaskCompletionEvent)
    except ValidationError as error:
        problems += [line for line in error.errors if line.split("=", 1)[0] not in _names(problems)]
        return Verdict(None, event_id, instance_id, "; ".join(problems))
    except Exception as error:  # pragma: no cover - a model bug must cost one event, not the whole request
        logger.exception("validating an event raised %s", type(error).__name__)
        return Verdict(None, event_id, instance_id, f"invalid event ({type(error).__name__}: {error})")
    if problems:
        return Verdict(None, event_id, instance_id, "; ".join(problems))
    problem = _server_checks(event)
    if problem is not None:
        return Verdict(None, event.event_id, event.instance_id, problem)
    return Verdict(event, event.event_id, event.instance_id)


def _names(problems: list[str]) -> set[str]:
    return {line.split("=", 1)[0] for line in problems}
