"""Named attrs converters, one per accepted input type (the attrs mypy plugin types ``__init__`` from them).

Each turns good input into the documented type and hands anything else back unchanged for the validator to report
(:mod:`._schema`): none of them raises. The common case — the value already has the right type — is tested inline,
without a second call, since every event runs these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from enum import Enum
from typing import TypeVar
from uuid import UUID

from .enums import Complexity, Harness, Outcome, Provider, QualityGate, RepoSizeCategory, TaskType

_E = TypeVar("_E", bound=Enum)

# -- the general converters ------------------------------------------------------------------------------------------

_UUID_CACHE: dict[str, UUID] = {}
_UUID_CACHE_LIMIT = 256


def to_uuid(value: str | UUID) -> UUID:
    """``str`` → :class:`~uuid.UUID`; a string seen before is a dict hit (every event repeats its ``instance_id``)."""
    if value.__class__ is UUID:
        return value
    if isinstance(value, str):
        cached = _UUID_CACHE.get(value)
        if cached is not None:
            return cached
        try:
            parsed = UUID(value)
        except ValueError:
            return value  # type: ignore[return-value]  # the validator reports it
        if len(_UUID_CACHE) >= _UUID_CACHE_LIMIT:
            _UUID_CACHE.clear()
        _UUID_CACHE[value] = parsed
        return parsed
    return value


def to_enum(enum: type[_E], value: _E | str) -> _E:
    """A member of ``enum`` from itself or its value; anything else unchanged."""
    if value.__class__ is enum:
        return value
    try:
        return enum(value)
    except (ValueError, TypeError):
        return value  # type: ignore[return-value]


#: The most entries a quality gate list holds (there are six gates; a repeat or two is tolerated).
MAX_GATES = 16


def to_enum_list(enum: type[_E], values: Iterable[_E | str]) -> list[_E]:
    """A list of ``enum`` members; input that is not a list of members or values, or is longer than
    :data:`MAX_GATES` (the validator reports it without converting every element), comes back unchanged."""
    # The common cases first, an empty one without a generator. A copy, as pydantic makes: the caller may reuse
    # their list (and EventBuilder keeps tuples).
    if (values.__class__ is list or values.__class__ is tuple) and (
        not values or all(v.__class__ is enum for v in values)
    ):
        return list(values)
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        return values  # type: ignore[return-value]
    items = list(values)
    if len(items) > MAX_GATES:
        return items  # type: ignore[return-value]
    converted = [to_enum(enum, v) for v in items]
    return converted if all(isinstance(v, enum) for v in converted) else items  # type: ignore[return-value]


UTC = timezone.utc
_ZULU = re.compile(r"[zZ]$")
_FRACTION = re.compile(r"(\.\d+)")


def to_datetime(value: object) -> datetime:
    """An aware UTC datetime: naive is taken as UTC, other offsets are converted, ISO 8601 strings parsed."""
    if value.__class__ is datetime and value.tzinfo is UTC:
        return value
    original = value
    if isinstance(value, str):
        try:
            text = _FRACTION.sub(lambda m: (m[1] + "000000")[:7], _ZULU.sub("+00:00", value), 1)
            value = datetime.fromisoformat(text)  # 3.10 reads neither "Z" nor fractions other than 3 or 6 digits
        except ValueError:
            return value  # type: ignore[return-value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # no UTC equivalent (year 1 / 9999 at an offset): the validator reports the input
            return original  # type: ignore[return-value]
    return value  # type: ignore[return-value]  # unchanged: the validator reports it


# -- one per field type (the attrs mypy plugin types ``__init__`` from these) -----------------------------------------


def task_type(value: TaskType | str) -> TaskType:
    return value if value.__class__ is TaskType else to_enum(TaskType, value)


def complexity(value: Complexity | str) -> Complexity:
    return value if value.__class__ is Complexity else to_enum(Complexity, value)


def harness(value: Harness | str) -> Harness:
    return value if value.__class__ is Harness else to_enum(Harness, value)


def provider(value: Provider | str) -> Provider:
    return value if value.__class__ is Provider else to_enum(Provider, value)


def outcome(value: Outcome | str) -> Outcome:
    return value if value.__class__ is Outcome else to_enum(Outcome, value)


def repo_size(value: RepoSizeCategory | str | None) -> RepoSizeCategory | None:
    if value is None or value.__class__ is RepoSizeCategory:
        return value
    return to_enum(RepoSizeCategory, value)


def quality_gates(values: Iterable[QualityGate | str]) -> list[QualityGate]:
    return to_enum_list(QualityGate, values)


def timestamp(value: datetime | str) -> datetime:
    if value.__class__ is datetime and value.tzinfo is UTC:
        return value
    return to_datetime(value)


def optional_timestamp(value: datetime | str | None) -> datetime | None:
    return None if value is None else to_datetime(value)
