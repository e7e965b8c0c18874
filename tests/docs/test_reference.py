"""The API reference pages document every public name: each name in ``mosaicstack_telemetry.__all__`` has a
mkdocstrings directive (``::: mosaicstack_telemetry.NAME``) in ``docs/reference/``, so a new export cannot be left
out of the generated reference (``nox -s docs`` then checks that each directive resolves)."""

from __future__ import annotations

import re
from pathlib import Path

import mosaicstack_telemetry

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
DIRECTIVE = re.compile(r"^::: mosaicstack_telemetry\.(?P<name>\w+)\s*$", re.MULTILINE)


def test_every_public_name_has_a_reference_entry() -> None:
    documented = {
        match.group("name") for page in REFERENCE.glob("*.md") for match in DIRECTIVE.finditer(page.read_text())
    }
    assert [] == sorted(set(mosaicstack_telemetry.__all__) - documented)
