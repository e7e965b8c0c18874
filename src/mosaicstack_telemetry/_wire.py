"""The wire format, defined once: private cattrs converters, JSON encoding and decoding.

Both directions of every model go through here — the client's requests and reply parsing, the reference server's
request parsing and replies, and the pydantic-style ``model_dump``/``model_validate`` conveniences.

Two converters, built by one function (the cattrs "preconf" pattern):

* ``native`` leaves :class:`~uuid.UUID`, :class:`~datetime.datetime` and the ``str`` enums as they are; it backs
  ``model_dump(mode="python")`` and feeds orjson, which writes all three natively.
* ``json`` turns them into JSON types: canonical UUID strings, ISO 8601 timestamps with their UTC offset, enum values;
  it backs ``model_dump(mode="json")`` and the stdlib :mod:`json` path.

Structuring passes every leaf through untouched: the models' own validation (:mod:`._schema`) converts and judges
each value. Keys a model does not know are ignored (forward compatibility with newer servers).
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from types import ModuleType
from typing import Any, TypeVar
from uuid import UUID

import attrs
import cattrs
from cattrs.fns import identity

from ._rules import MISSING
from .enums import _WireEnum
from .errors import ValidationError

#: orjson when the `fast` extra is installed (tests and benchmarks set it to None to take the stdlib path).
orjson: ModuleType | None
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the test sessions install the extra
    orjson = None
else:
    orjson = _orjson

__all__ = ["dumps", "dumps_each", "json_converter", "loads", "native_converter", "parse", "structure"]

_T = TypeVar("_T")


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Enum)


_PLAIN_LEAVES = frozenset({str, int, float, bool})


def _optional_of(tp: Any) -> Any:
    """``X`` for ``X | None``, else ``None``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        return args[0] if args[1] is type(None) else args[1]
    return None


def _make_converter(*, text_ids_and_times: bool, enum_values: bool) -> cattrs.Converter:
    """One converter of the family: which of UUID/datetime and the enums become JSON text, and which stay objects.

    cattrs leaves ``identity`` hooks out of the code it generates — the attribute is read and stored, nothing is
    called — so every type left as it is costs nothing per field. Per-field hook calls are what make a naive
    converter slower than pydantic.
    """
    converter = cattrs.Converter()
    if text_ids_and_times:
        converter.register_unstructure_hook(UUID, str)
        converter.register_unstructure_hook(datetime, datetime.isoformat)
    else:
        converter.register_unstructure_hook(UUID, identity)
        converter.register_unstructure_hook(datetime, identity)
    if enum_values:
        # singledispatch, which cattrs tries first: a function hook loses to the built-in `str` hook (enums are str)
        converter.register_unstructure_hook(_WireEnum, lambda member: member.value)
    else:
        converter.register_unstructure_hook_func(_is_enum, identity)
    kept = _PLAIN_LEAVES if text_ids_and_times else _PLAIN_LEAVES | {UUID, datetime}
    converter.register_unstructure_hook_func(
        lambda tp: _optional_of(tp) in kept or (not enum_values and _is_enum(_optional_of(tp))), identity
    )
    converter.register_structure_hook_factory(attrs.has, _model_structure_hook)
    return converter


def _model_structure_hook(cls: type[Any]) -> Any:
    """Structure a model from a mapping: keep the keys it knows, mark the missing required ones, let it validate.

    Values are passed to the model untouched — its validation (``_schema``) converts them and reports every bad
    or missing field at once, nested models included, as paths (``results[3].event_id=…``).
    """
    fields = attrs.fields(cls)
    names = tuple(field.name for field in fields)
    required = tuple(field.name for field in fields if field.default is attrs.NOTHING)

    def structure_model(value: Any, _type: Any) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ValidationError(cls.__name__, [f"expected an object, got {_type_name(value)}"])
        kwargs = {name: value[name] for name in names if name in value}
        for name in required:
            kwargs.setdefault(name, MISSING)
        return cls(**kwargs)

    return structure_model


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


#: everything stays an object: ``model_dump(mode="python")``, and what orjson encodes (it writes all three natively)
native_converter = _make_converter(text_ids_and_times=False, enum_values=False)
#: JSON types only: ``model_dump(mode="json")``
json_converter = _make_converter(text_ids_and_times=True, enum_values=True)
#: for the stdlib encoder: ids and times as text, enums left as they are (str subclasses: json writes their value)
_stdlib_converter = _make_converter(text_ids_and_times=True, enum_values=False)
_stdlib_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)


def structure(data: Any, cls: type[_T]) -> _T:
    """Build ``cls`` from JSON-shaped data; raises one :class:`ValidationError` naming every bad path."""
    return native_converter.structure(data, cls)


# -- JSON text ------------------------------------------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    """Encode a model, or lists/dicts of models, as compact UTF-8 JSON (orjson when the ``fast`` extra is present)."""
    if orjson is not None:
        encoded: bytes = orjson.dumps(native_converter.unstructure(obj))
        return encoded
    return _stdlib_encoder.encode(_stdlib_converter.unstructure(obj)).encode()


def dumps_each(objs: list[Any]) -> list[bytes]:
    """Encode each model of a list on its own (the spool stores events one per row): one unstructuring pass over the
    list, then one encoder call per item — what ``[dumps(obj) for obj in objs]`` does, without a dispatch per item."""
    if orjson is not None:
        return [orjson.dumps(item) for item in native_converter.unstructure(objs)]
    encode = _stdlib_encoder.encode
    return [encode(item).encode() for item in _stdlib_converter.unstructure(objs)]


def loads(data: bytes | bytearray | str) -> Any:
    """Decode JSON text (orjson when present); raises :class:`ValueError` for malformed input."""
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)


def parse(data: bytes | bytearray | str, cls: type[_T]) -> _T:
    """Decode JSON text into ``cls``; malformed JSON or a bad shape raises :class:`ValidationError`."""
    try:
        decoded = loads(data)
    except ValueError as error:
        raise ValidationError(cls.__name__, [f"invalid JSON: {error}"]) from None
    return structure(decoded, cls)
