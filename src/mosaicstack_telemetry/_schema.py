"""The one validation step every model runs after ``__init__``, generated per class from its fields' rules.

The original SDK's pydantic models validated and converted inputs, reporting every bad field at once. Ours do the
same in two parts, so that nothing raises half-way through ``__init__``:

1. *converters* (:mod:`._converters`) on the attrs fields that accept more than one type (``str | UUID``, an enum or
   its value, …) turn good input into the documented type and hand anything else back unchanged — they never raise;
2. one *validator* per class, generated once from each field's rule (:mod:`._rules`), as attrs generates
   ``__init__``, checks every field, converts what a rule allows (an integral float for an ``int``), gathers one
   line per bad field and raises a single :class:`~mosaicstack_telemetry.errors.ValidationError`.

The validator is generated rather than looped, so that a valid event costs one inline test per field; the slow path
— conversion and error messages — is plain methods on the rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import attrs

from ._converters import UTC
from ._rules import RULE_KEY, SURROGATE, BadValueError
from .errors import ValidationError

if TYPE_CHECKING:
    from ._model import Model

__all__ = ["schema"]

_M = TypeVar("_M", bound="Model")


# -- the generated validator -----------------------------------------------------------------------------------------


def _compile_validator(cls: type[Any]) -> Callable[[Any], None]:
    """Generate ``validate(self)`` for an attrs class from the rules in its fields' metadata."""
    namespace: dict[str, Any] = {
        "math": math,
        "UUID": UUID,
        "datetime": datetime,
        "UTC": UTC,
        "SURROGATE": SURROGATE,
        "BadValueError": BadValueError,
        "ValidationError": ValidationError,
    }
    # object.__setattr__ sets a slot on mutable and frozen classes alike (PredictionQuery is frozen: a cache key).
    namespace["_setattr"] = object.__setattr__
    lines = ["def validate(self):", "    errors = None"]
    for index, field in enumerate(attrs.fields(cls)):
        field_rule = field.metadata.get(RULE_KEY)
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
            "        except BadValueError as bad:",
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
