"""Field rules and the one validation step every model runs after ``__init__``.

The original SDK's pydantic models validated and converted inputs, reporting every bad field at once. Ours do the
same in two parts, so that nothing raises half-way through ``__init__``:

1. *converters* on the attrs fields that accept more than one type (``str | UUID``, an enum or its value, …) turn
   good input into the documented type and hand anything else back unchanged — they never raise;
2. one *validator* per class, generated once from each field's :class:`Rule` (as attrs generates ``__init__``),
   checks every field, converts what a rule allows (an integral float for an ``int``), gathers one line per bad field
   and raises a single :class:`~mosaicstack_telemetry.errors.ValidationError`.

The validator is generated rather than looped so that a valid event costs one inline test per field (≈ 1 µs for a
whole :class:`~mosaicstack_telemetry.TaskCompletionEvent`); the slow path — conversion and error messages — is
plain methods on the rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

import attrs

from .errors import ValidationError

if TYPE_CHECKING:
    from ._model import Model

__all__ = [
    "MAX_GATES",
    "MISSING",
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
    "schema",
    "to_datetime",
    "to_enum",
    "to_enum_list",
    "to_uuid",
]

_RULE_KEY = "mosaicstack_telemetry.rule"
_E = TypeVar("_E", bound=Enum)
_M = TypeVar("_M", bound="Model")


class _Missing:
    """The value of a required field absent from the input mapping (``model_validate``): reported, never kept."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


class _BadValueError(Exception):
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
        return [f"{name}={_short_repr(value)} {self}"]


def _short_repr(value: Any, limit: int = 120) -> str:
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
        """Return the value in its documented type, or raise :class:`_BadValueError` saying what is wrong with it."""
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        """The slow path: a missing value, ``None`` for optional fields, then :meth:`convert`."""
        if value is MISSING:
            raise _BadValueError("is required")
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
            raise _BadValueError("is not an integer")
        if not self.low <= value <= self.high:
            raise _BadValueError(f"is outside {self.low}..{self.high}")
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
            raise _BadValueError("is not a number")
        try:
            number = float(value)
        except OverflowError:  # an int beyond a double's range
            raise _BadValueError("is not a finite number") from None
        if math.isnan(number) or math.isinf(number):
            raise _BadValueError("is not a finite number")
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not low <= number <= high:
            raise _BadValueError(_range_text(self.low, self.high))
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
            f" and ({var}.isascii() or not _SURROGATE.search({var}))"
        )

    def convert(self, value: Any) -> str:
        if not isinstance(value, str):
            raise _BadValueError("is not a string")
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            high = "" if self.max_length is None else self.max_length
            raise _BadValueError(f"must be {self.min_length}..{high} characters long")
        if not value.isascii() and _SURROGATE.search(value):
            raise _BadValueError("is not valid Unicode (it contains a lone surrogate)")
        return str(value)


@attrs.frozen
class Bool(Rule):
    """A ``bool``; nothing else (``"yes"`` and ``1`` are mistakes more often than intent)."""

    optional: bool = False

    def fast_test(self, var: str, ref: str) -> str:
        return f"{var}.__class__ is bool"

    def convert(self, value: Any) -> bool:
        raise _BadValueError("is not a bool")


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
            raise _BadValueError(f"is not one of {', '.join(repr(m.value) for m in self.enum)}")
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
            raise _BadValueError("is not a list")
        if self.max_items is not None:
            value = list(value)
            if len(value) > self.max_items:  # before converting anything: a huge list costs one len()
                raise _BadValueError(f"has {len(value)} items, expected at most {self.max_items}")
        item = EnumOf(self.enum)
        converted = []
        for index, element in enumerate(value):
            try:
                converted.append(item.convert(element))
            except _BadValueError as bad:
                raise _BadValueError(f"has [{index}]={element!r}, which {bad}") from None
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
            raise _BadValueError("is not a valid UUID")
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
            raise _BadValueError("is not an ISO 8601 date-time")
        if converted.tzinfo is not UTC:
            raise _BadValueError("is out of range in UTC")
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
            raise _BadValueError("is not a mapping")
        converted = {}
        for key, element in value.items():
            if not isinstance(key, str):
                raise _BadValueError(f"has a key {key!r} that is not a string")
            try:
                converted[key] = self.values.check(element)
            except _BadValueError as bad:
                raise _BadValueError(f"has [{key!r}]={element!r}, which {bad}") from None
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
                raise _BadValueError(nested=tuple(f".{line}" for line in error.errors)) from None
        raise _BadValueError(f"is not a {self.model.__name__} (nor a mapping)")


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
            raise _BadValueError("is not a list")
        items = list(value)
        if len(items) < self.min_items or (self.max_items is not None and len(items) > self.max_items):
            high = "" if self.max_items is None else self.max_items
            raise _BadValueError(f"has {len(items)} items, expected {self.min_items}..{high}")
        converted, nested = [], []
        for index, element in enumerate(items):
            try:
                converted.append(self.item.convert(element))
            except _BadValueError as bad:
                nested += bad.lines(f"[{index}]", element)
        if nested:
            raise _BadValueError(nested=tuple(nested))
        return converted


def _range_text(low: float | None, high: float | None) -> str:
    if high is None:
        return f"must be at least {low}"
    if low is None:
        return f"must be at most {high}"
    return f"is outside {low}..{high}"


def rule(field_rule: Rule) -> dict[str, Rule]:
    """Field metadata that attaches ``field_rule`` to an attrs field: ``attrs.field(metadata=rule(...))``."""
    return {_RULE_KEY: field_rule}


def field_rules(cls: type[Any]) -> dict[str, Rule]:
    """The rule of each field of the attrs class ``cls`` that has one, by name, in field order."""
    return {field.name: field.metadata[_RULE_KEY] for field in attrs.fields(cls) if _RULE_KEY in field.metadata}


# -- converters: turn good input into the documented type, hand anything else back (never raise) --------------------

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
_SURROGATE = re.compile("[\ud800-\udfff]")


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


# -- the generated validator -----------------------------------------------------------------------------------------


def _compile_validator(cls: type[Any]) -> Callable[[Any], None]:
    """Generate ``validate(self)`` for an attrs class from the rules in its fields' metadata."""
    namespace: dict[str, Any] = {
        "math": math,
        "UUID": UUID,
        "datetime": datetime,
        "UTC": UTC,
        "_SURROGATE": _SURROGATE,
        "_BadValueError": _BadValueError,
        "ValidationError": ValidationError,
    }
    # object.__setattr__ sets a slot on mutable and frozen classes alike (PredictionQuery is frozen: a cache key).
    namespace["_setattr"] = object.__setattr__
    lines = ["def validate(self):", "    errors = None"]
    for index, field in enumerate(attrs.fields(cls)):
        field_rule = field.metadata.get(_RULE_KEY)
        if field_rule is None:
            continue
        ref = f"rule{index}"
        namespace[ref] = field_rule
        name = field.name
        lines += [
            f"    v = self.{name}",
            f"    if not ({field_rule.test('v', ref)}):",
            "        try:",
            f"            _setattr(self, {name!r}, {ref}.check(v))",
            "        except _BadValueError as bad:",
            "            errors = errors or []",
            f"            errors += bad.lines({name!r}, v)",
        ]
    lines += [
        "    if errors:",
        f"        raise ValidationError({cls.__name__!r}, errors)",
    ]
    source = "\n".join(lines)
    code = compile(source, f"<validator of {cls.__qualname__}>", "exec")
    exec(code, namespace)  # noqa: S102 - source built above from our own rules, as attrs builds __init__
    validate: Callable[[Any], None] = namespace["validate"]
    return validate


def schema(cls: type[_M]) -> type[_M]:
    """Class decorator (above ``@attrs.define``): install the generated validator ``__attrs_post_init__`` calls."""
    cls._validate = _compile_validator(cls)
    return cls
