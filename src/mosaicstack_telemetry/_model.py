"""The base of every public model: validation after ``__init__`` and the pydantic-style methods users call.

The original SDK's models were pydantic models, so code written against it calls ``model_dump``,
``model_dump_json``, ``model_validate``, ``model_validate_json`` and ``model_copy``. They are here with the same
meaning, implemented through the one converter in :mod:`._wire`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar

from . import _wire

__all__ = ["Model"]

_M = TypeVar("_M", bound="Model")


class Model:
    """Mixin for the attrs models. Subclasses are ``@schema @attrs.define(kw_only=True)`` classes."""

    __slots__ = ()

    #: installed by :func:`._schema.schema`: checks and converts every field, raising one ``ValidationError``
    _validate: ClassVar[Any]

    def __attrs_post_init__(self) -> None:
        self._validate()

    # -- pydantic-style conveniences ----------------------------------------------------------------------------------

    def model_dump(
        self,
        *,
        mode: Literal["python", "json"] = "python",
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        exclude_none: bool = False,
    ) -> dict[str, Any]:
        """A ``dict`` of the fields: Python objects (``mode="python"``) or JSON types (``mode="json"``)."""
        if mode not in ("python", "json"):
            raise ValueError(f"mode={mode!r} is not one of 'python', 'json'")
        converter = _wire.native_converter if mode == "python" else _wire.json_converter
        data: dict[str, Any] = converter.unstructure(self)
        if include is not None:
            keep = set(include)
            data = {k: v for k, v in data.items() if k in keep}
        if exclude is not None:
            drop = set(exclude)
            data = {k: v for k, v in data.items() if k not in drop}
        if exclude_none:
            data = {k: v for k, v in data.items() if v is not None}
        return data

    def model_dump_json(self, *, indent: int | None = None, exclude_none: bool = False) -> str:
        """The model as JSON text, exactly as it is sent on the wire (``indent`` pretty-prints)."""
        if indent is None and not exclude_none:
            return _wire.dumps(self).decode()
        return json.dumps(self.model_dump(mode="json", exclude_none=exclude_none), indent=indent)

    @classmethod
    def model_validate(cls: type[_M], obj: Mapping[str, Any] | _M) -> _M:
        """Build a model from a ``dict`` (JSON types or Python objects); raises ``ValidationError``."""
        return _wire.structure(obj, cls)

    @classmethod
    def model_validate_json(cls: type[_M], data: str | bytes | bytearray) -> _M:
        """Build a model from JSON text; raises ``ValidationError`` for bad JSON or bad values."""
        return _wire.parse(data, cls)

    def model_copy(self: _M, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> _M:
        """A copy, with ``update`` applied as pydantic does: assigned as given, not validated."""
        duplicate = copy.deepcopy(self) if deep else copy.copy(self)
        for name, value in (update or {}).items():
            object.__setattr__(duplicate, name, value)
        return duplicate
