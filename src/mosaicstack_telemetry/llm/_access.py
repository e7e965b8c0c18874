"""Attribute-or-key access: SDK response objects and plain dicts read the same way.

The instrumentation never imports a provider SDK: it reads what it needs by name, from an attribute (pydantic models
of anthropic, openai and ollama) or a key (a ``dict`` decoded from JSON), and treats a missing field as ``None``.
``get`` is on the per-chunk path of streams: a ``dict`` and a declared attribute are the fast cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["get", "get_int"]


def get(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]``; ``None`` when absent (or when ``obj`` is ``None``).

    A pydantic model keeps its fields in ``__dict__`` and its extra fields (OpenRouter's ``usage.cost``) in
    ``__pydantic_extra__``: both are read directly, so that a missing name costs no raised and caught
    ``AttributeError``.
    """
    if type(obj) is dict:
        return obj.get(name)
    fields = getattr(obj, "__dict__", None)
    if fields is not None and name in fields:
        return fields[name]
    extra = getattr(obj, "__pydantic_extra__", _ABSENT)
    if extra is not _ABSENT:
        return extra.get(name) if extra else None
    try:
        return getattr(obj, name)
    except AttributeError:
        if isinstance(obj, Mapping):
            return obj.get(name)
        return None


_ABSENT: Any = object()


def get_int(obj: Any, name: str) -> int | None:
    """A token count: an ``int`` (never a ``bool``), else ``None`` — a count the provider did not send is unknown."""
    value = get(obj, name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None
