"""The API reference pages document every public name: each name in ``mosaicstack_telemetry.__all__`` has a
mkdocstrings directive (``::: mosaicstack_telemetry.NAME``) in ``docs/reference/``, so a new export cannot be left
out of the generated reference (``nox -s docs`` then checks that each directive resolves). Models render their
fields without the ``attrs.field(...)`` that builds them, and the batch types describe each field."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import mosaicstack_telemetry
from mosaicstack_telemetry import batch
from mosaicstack_telemetry._model import Model

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
DIRECTIVE = re.compile(r"^::: mosaicstack_telemetry\.(?P<name>\w+)\s*$", re.MULTILINE)


def test_every_public_name_has_a_reference_entry() -> None:
    documented = {
        match.group("name") for page in REFERENCE.glob("*.md") for match in DIRECTIVE.finditer(page.read_text())
    }
    assert [] == sorted(set(mosaicstack_telemetry.__all__) - documented)


_OPTIONS = re.compile(r"^::: mosaicstack_telemetry\.(?P<name>\w+)\n(?P<options>(?:    .*\n)*)", re.MULTILINE)


def test_model_fields_render_without_their_attrs_internals() -> None:
    """A model's field is built with ``attrs.field(metadata=rule(...))``: the reference shows its name, type and
    description, not that expression (``show_attribute_values: false`` on every model's directive)."""
    models = {name for name in mosaicstack_telemetry.__all__ if _is_model(getattr(mosaicstack_telemetry, name))}
    assert {"BatchEventRequest", "BatchEventResponse", "BatchEventResult", "TaskCompletionEvent"} <= models
    hiding = {
        match.group("name")
        for page in REFERENCE.glob("*.md")
        for match in _OPTIONS.finditer(page.read_text(encoding="utf-8"))
        if "show_attribute_values: false" in match.group("options")
    }
    assert [] == sorted(models - hiding)


def test_every_batch_field_has_a_description() -> None:
    """Each field of the batch types has a docstring below it (what the reference shows as its description)."""
    tree = ast.parse(inspect.getsource(batch))
    undocumented = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for field, following in zip(node.body, [*node.body[1:], None], strict=True):
            if not isinstance(field, ast.AnnAssign):
                continue
            described = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
            if not described:
                undocumented.append(f"{node.name}.{ast.unparse(field.target)}")
    assert [] == undocumented


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Model)
