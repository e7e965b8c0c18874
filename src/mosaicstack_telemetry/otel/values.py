"""OTLP attribute values to Python, and the coercions a harness's numbers and flags need.

An OTLP ``AnyValue`` arrives as JSON (``{"intValue": "1200"}``) or protobuf; both become plain Python values here:
``str``, ``int``, ``float``, ``bool``, ``bytes``, ``list`` or ``dict``. A value whose shape is wrong (``{"doubleValue":
{}}``, an ``intValue`` that is not an integer) raises :class:`MalformedValueError`, so that its record is rejected (OTLP
partial success) rather than misread.

Harnesses send numbers as an ``intValue`` string or number, a ``doubleValue``, or a numeric ``stringValue``; flags as a
bool or ``"true"``/``"false"``. :func:`as_int`, :func:`as_decimal` and :func:`as_bool` accept every form and raise
:class:`MalformedValueError` naming the attribute and value otherwise; absent (``None``) stays ``None``.
"""

from __future__ import annotations

import base64
import math
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["MalformedValueError", "any_value", "as_bool", "as_decimal", "as_int", "attributes"]


class MalformedValueError(ValueError):
    """An attribute value of the wrong shape: its record cannot be read."""


def _int(raw: Any, key: str) -> int:
    if isinstance(raw, bool):
        raise MalformedValueError(f"{key}: intValue must be an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            pass
    raise MalformedValueError(f"{key}: intValue must be an integer, got {_short(raw)}")


def _double(raw: Any, key: str) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str) and raw in ("NaN", "Infinity", "-Infinity"):  # the proto3 JSON spellings
        return float(raw.replace("Infinity", "inf"))
    raise MalformedValueError(f"{key}: doubleValue must be a number, got {_short(raw)}")


def _short(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def any_value(value: Any, key: str = "value") -> Any:
    """The Python value of one JSON-encoded ``AnyValue`` (``None`` for an empty one)."""
    if not isinstance(value, dict):
        raise MalformedValueError(f"{key}: an AnyValue must be an object, got {_short(value)}")
    if not value:
        return None
    if "stringValue" in value:
        raw = value["stringValue"]
        if not isinstance(raw, str):
            raise MalformedValueError(f"{key}: stringValue must be a string, got {_short(raw)}")
        return raw
    if "intValue" in value:
        return _int(value["intValue"], key)
    if "doubleValue" in value:
        return _double(value["doubleValue"], key)
    if "boolValue" in value:
        raw = value["boolValue"]
        if not isinstance(raw, bool):
            raise MalformedValueError(f"{key}: boolValue must be true or false, got {_short(raw)}")
        return raw
    if "arrayValue" in value:
        items = (value["arrayValue"] or {}).get("values") or []
        if not isinstance(items, list):
            raise MalformedValueError(f"{key}: arrayValue.values must be a list")
        return [any_value(item, key) for item in items]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values") or [])
    if "bytesValue" in value:
        raw = value["bytesValue"]
        try:
            return base64.b64decode(raw, validate=True)
        except (TypeError, ValueError):
            raise MalformedValueError(f"{key}: bytesValue must be base64") from None
    return None  # a value kind this reader does not know: unknown fields are ignored (OTLP)


def attributes(items: Any) -> dict[str, Any]:
    """A JSON ``KeyValue`` list as a dict (a repeated key: the last wins)."""
    if not isinstance(items, list):
        raise MalformedValueError(f"attributes must be a list, got {_short(items)}")
    result: dict[str, Any] = {}
    for item in items:
        if type(item) is not dict or type(key := item.get("key")) is not str:
            raise MalformedValueError(f"an attribute must be an object with a string key, got {_short(item)}")
        value = item.get("value")
        if type(value) is dict and len(value) == 1:  # the common shapes, read without the general walk
            ((kind, raw),) = value.items()
            if (kind == "stringValue" and type(raw) is str) or (kind == "intValue" and type(raw) is int):
                result[key] = raw
                continue
            if kind == "doubleValue" and type(raw) is float:
                result[key] = raw
                continue
        result[key] = any_value(value or {}, key)
    return result


def as_int(value: Any, key: str) -> int | None:
    """An integer from an int, an integral float, or a numeric string; ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedValueError(f"{key} must be a number, got {value!r}")
    if isinstance(value, int):
        return value
    number = as_decimal(value, key)
    if number is None or number != number.to_integral_value():
        raise MalformedValueError(f"{key} must be a whole number, got {_short(value)}")
    return int(number)


def as_decimal(value: Any, key: str) -> Decimal | None:
    """A finite decimal from a number or a numeric string (a float through its shortest repr); ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedValueError(f"{key} must be a number, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedValueError(f"{key} must be finite, got {value!r}")
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise MalformedValueError(f"{key} must be a number, got {_short(value)}")


def as_bool(value: Any, key: str) -> bool | None:
    """A flag from a bool or ``"true"``/``"false"`` (any case); ``None`` when absent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedValueError(f"{key} must be true or false, got {_short(value)}")
