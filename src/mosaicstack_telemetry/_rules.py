"""Field rules: what each model field accepts, how a rule tests a value inline, converts it, or says what is wrong.

A rule is attached to an attrs field as metadata (``attrs.field(metadata=rule(IntRange(0)))``); :mod:`._schema`
generates each class's validator from its fields' rules. The reference server's strict wire checks read the same
rules (:func:`field_rules`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

import attrs

from ._converters import UTC, to_datetime, to_enum, to_uuid
from .errors import ValidationError

if TYPE_CHECKING:
    from ._model import Model

__all__ = [
    "MISSING",
    "RULE_KEY",
    "SURROGATE",
    "BadValueError",
    "Bool",
    "DateTime",
    "EnumList",
    "EnumOf",
    "FloatRange",
    "IntRange",
    "IsUUID",
    "ListOf",
    "MappingOf",
    "Nested",
    "Rule",
    "Text",
    "field_rules",
    "rule",
    "short_repr",
]

#: Lone surrogates: text that cannot be encoded as UTF-8 (and so cannot be sent).
SURROGATE = re.compile("[\ud800-\udfff]")

RULE_KEY = "mosaicstack_telemetry.rule"
_E = TypeVar("_E", bound=Enum)


class _Missing:
    """The value of a required field absent from the input mapping (``model_validate``): reported, never kept."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


class BadValueError(Exception):
    """Raised by a rule's slow path: what is wrong with the value.

    ``nested`` holds the lines of a nested model's own ``ValidationError``, each relative to the field (``[3].x=…``),
    so errors deep in a reply read as paths: ``results[3].event_id='x' is not a valid UUID``.
    """

    def __init__(self, message: str = "", nested: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.nested = nested

    def lines(self, name: str, value: Any) -> list[str]:
        if self.nested:
            return [f"{name}{line}" for line in self.nested]
        if value is MISSING:
            return [f"{name} {self}"]
        return [f"{name}={short_repr(value)} {self}"]


def short_repr(value: Any, limit: int = 120) -> str:
    """The value as errors show it: a 101-event list must not make a 100 KB message."""
    if isinstance(value, (list, tuple)) and len(value) > limit:  # repr only what can be shown, not 500k items
        value = value[:limit]
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (Python 3.11+ limits int → str conversions)
        return f"<an integer of {value.bit_length()} bits>" if isinstance(value, int) else "<unprintable>"
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class Rule:
    """How one field is checked. Subclasses give a fast inline test and a slow path that converts or complains."""

    #: ``None`` is accepted as well (an ``X | None`` field).
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        """A Python expression over ``var`` that is true when the value is good as it is (``ref`` names the rule)."""
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """Return the value in its documented type, or raise :class:`BadValueError` saying what is wrong with it."""
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        """The slow path: a missing value, ``None`` for optional fields, then :meth:`convert`."""
        if value is MISSING:
            raise BadValueError("is required")
        if value is None and self.optional:
            return None
        return self.convert(value)

    def test(self, var: str, ref: str) -> str:
        test = self.fast_test(var, ref)
        return f"({var} is None or {test})" if self.optional else test


@attrs.frozen
class IntRange(Rule):
    """An ``int`` in ``low..high``; an integral ``float`` is converted (as pydantic's lax mode does), a bool is not."""

    low: int
    high: int
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return f"{var}.__class__ is int and {self.low} <= {var} <= {self.high}"

    def convert(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadValueError("is not an integer")
        if not self.low <= value <= self.high:
            raise BadValueError(f"is outside {self.low}..{self.high}")
        return int(value)


@attrs.frozen
class FloatRange(Rule):
    """A finite ``float`` in ``low..high`` (no bound when ``None``); an ``int`` is converted."""

    low: float | None = None
    high: float | None = None
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        low = "-math.inf" if self.low is None else repr(self.low)
        high = "math.inf" if self.high is None else repr(self.high)
        return f"{var}.__class__ is float and {low} <= {var} <= {high}"

    def convert(self, value: Any) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise BadValueError("is not a number")
        try:
            number = float(value)
        except OverflowError:  # an int beyond a double's range
            raise BadValueError("is not a finite number") from None
        if math.isnan(number) or math.isinf(number):
            raise BadValueError("is not a finite number")
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not low <= number <= high:
            raise BadValueError(_range_text(self.low, self.high))
        return number


@attrs.frozen
class Text(Rule):
    """A ``str`` whose length is in ``min_length..max_length``."""

    min_length: int = 0
    max_length: int | None = None
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        high = "" if self.max_length is None else f" <= {self.max_length}"
        return (
            f"{var}.__class__ is str and {self.min_length} <= len({var}){high}"
            f" and ({var}.isascii() or not SURROGATE.search({var}))"
        )

    def convert(self, value: Any) -> str:
        if not isinstance(value, str):
            raise BadValueError("is not a string")
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            high = "" if self.max_length is None else self.max_length
            raise BadValueError(f"must be {self.min_length}..{high} characters long")
        if not value.isascii() and SURROGATE.search(value):
            raise BadValueError("is not valid Unicode (it contains a lone surrogate)")
        return str(value)


@attrs.frozen
class Bool(Rule):
    """A ``bool``; nothing else (``"yes"`` and ``1`` are mistakes more often than intent)."""

    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return f"{var}.__class__ is bool"

    def convert(self, value: Any) -> bool:
        raise BadValueError("is not a bool")


@attrs.frozen
class EnumOf(Rule, Generic[_E]):
    """A member of ``enum``, or its value string."""

    enum: type[_E]
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return f"{var}.__class__ is {ref}.enum"

    def convert(self, value: Any) -> _E:
        converted = to_enum(self.enum, value)
        if not isinstance(converted, self.enum):
            raise BadValueError(f"is not one of {', '.join(repr(m.value) for m in self.enum)}")
        return converted


@attrs.frozen
class EnumList(Rule, Generic[_E]):
    """A list of at most ``max_items`` ``enum`` members (or their value strings)."""

    enum: type[_E]
    max_items: int | None = None
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        # `not v or`: most gate lists are empty, and an empty all() still builds a generator
        high = "" if self.max_items is None else f"len({var}) <= {self.max_items} and "
        return f"{var}.__class__ is list and (not {var} or ({high}all(g.__class__ is {ref}.enum for g in {var})))"

    def convert(self, value: Any) -> list[_E]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise BadValueError("is not a list")
        if self.max_items is not None:
            value = list(value)
            if len(value) > self.max_items:  # before converting anything: a huge list costs one len()
                raise BadValueError(f"has {len(value)} items, expected at most {self.max_items}")
        item = EnumOf(self.enum)
        converted = []
        for index, element in enumerate(value):
            try:
                converted.append(item.convert(element))
            except BadValueError as bad:
                raise BadValueError(f"has [{index}]={element!r}, which {bad}") from None
        return converted


@attrs.frozen
class IsUUID(Rule):
    """A :class:`uuid.UUID`, or a string that parses as one."""

    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return f"{var}.__class__ is UUID"

    def convert(self, value: Any) -> UUID:
        converted = to_uuid(value)
        if not isinstance(converted, UUID):
            raise BadValueError("is not a valid UUID")
        return converted


@attrs.frozen
class DateTime(Rule):
    """An aware :class:`datetime.datetime` in UTC; a naive one is taken as UTC, an ISO 8601 string is parsed."""

    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return f"{var}.__class__ is datetime and {var}.tzinfo is UTC"

    def convert(self, value: Any) -> datetime:
        converted = to_datetime(value)
        if not isinstance(converted, datetime):
            raise BadValueError("is not an ISO 8601 date-time")
        if converted.tzinfo is not UTC:
            raise BadValueError("is out of range in UTC")
        return converted


@attrs.frozen
class MappingOf(Rule):
    """A ``dict`` from ``str`` to values that each pass ``values``."""

    values: Rule
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return "False"  # small and rare (prediction replies): always take the careful path

    def convert(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise BadValueError("is not a mapping")
        converted = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise BadValueError(f"has a key {key!r} that is not a string")
            try:
                converted[key] = self.values.check(element)
            except BadValueError as bad:
                raise BadValueError(f"has [{key!r}]={element!r}, which {bad}") from None
        return converted


@attrs.frozen
class Nested(Rule):
    """An instance of another model; a mapping is validated into one."""

    model: type[Model]
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return f"{var}.__class__ is {ref}.model"

    def convert(self, value: Any) -> Model:
        if isinstance(value, self.model):
            return value
        if isinstance(value, Mapping):
            try:
                return self.model.model_validate(value)
            except ValidationError as error:
                raise BadValueError(nested=tuple(f".{line}" for line in error.errors)) from None
        raise BadValueError(f"is not a {self.model.__name__} (nor a mapping)")


@attrs.frozen
class ListOf(Rule):
    """A list of ``min_items..max_items`` models."""

    item: Nested
    min_items: int = 0
    max_items: int | None = None
    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        high = "" if self.max_items is None else f" <= {self.max_items}"
        return (
            f"{var}.__class__ is list and {self.min_items} <= len({var}){high}"
            f" and all(e.__class__ is {ref}.item.model for e in {var})"
        )

    def convert(self, value: Any) -> list[Any]:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise BadValueError("is not a list")
        items = list(value)
        if len(items) < self.min_items or (self.max_items is not None and len(items) > self.max_items):
            high = "" if self.max_items is None else self.max_items
            raise BadValueError(f"has {len(items)} items, expected {self.min_items}..{high}")
        converted, nested = [], []
        for index, element in enumerate(items):
            try:
                converted.append(self.item.convert(element))
            except BadValueError as bad:
                nested += bad.lines(f"[{index}]", element)
        if nested:
            raise BadValueError(nested=tuple(nested))
        return converted


def _range_text(low: float | None, high: float | None) -> str:
    if high is None:
        return f"must be at least {low}"
    if low is None:
        return f"must be at most {high}"
    return f"is outside {low}..{high}"


def rule(field_rule: Rule) -> dict[str, Rule]:
    """Field metadata that attaches ``field_rule`` to an attrs field: ``attrs.field(metadata=rule(...))``."""
    return {RULE_KEY: field_rule}


def field_rules(cls: type[Any]) -> dict[str, Rule]:
    """The rule of each field of the attrs class ``cls`` that has one, by name, in field order."""
    return {field.name: field.metadata[RULE_KEY] for field in attrs.fields(cls) if RULE_KEY in field.metadata}
