"""Installing the command: the ``cli`` extra brings everything its commands use, and a missing dependency's hint
names both install forms (the package index's and a checkout's)."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import requires

import pytest

from mosaicstack_telemetry.cli.drive import BACKENDS

from ._support import clean_env, invoke

_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[(?P<extras>[^\]]*)\])?[^;]*(?:;(?P<marker>.*))?$")
_EXTRA = re.compile(r"""extra\s*==\s*["'](?P<extra>[\w-]+)["']""")
PACKAGE = "mosaicstack-telemetry"


def extra_packages(extra: str) -> set[str]:
    """The distributions ``pip install "mosaicstack-telemetry[EXTRA]"`` adds, self-references resolved."""
    names: set[str] = set()
    pending, seen = [extra], set()
    while pending:
        wanted = pending.pop()
        seen.add(wanted)
        for line in requires(PACKAGE) or []:
            match = _REQUIREMENT.match(line.strip())
            assert match is not None, line
            marker = _EXTRA.search(match.group("marker") or "")
            if marker is None or marker.group("extra") != wanted:
                continue
            name = match.group("name").lower().replace("_", "-")
            if name == PACKAGE:
                pending += [e.strip() for e in (match.group("extras") or "").split(",") if e.strip() not in seen]
            else:
                names.add(name)
    return names


def test_the_cli_extra_brings_every_demo_backend_and_the_server() -> None:
    """`demo --backend trio` works after `pip install -e ".[cli]"`: trio comes with the extra, as do the server's
    and the CLI's own packages."""
    packages = extra_packages("cli")
    assert {"click", "rich", "starlette", "uvicorn", "trio"} <= packages
    assert "trio" in BACKENDS


def test_a_missing_cli_dependency_names_both_install_forms() -> None:
    """Without click the command says which extra it needs, for an index install and for a checkout, and exits 1."""
    code = "import sys; sys.modules['click'] = None; import mosaicstack_telemetry.cli"
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert 1 == done.returncode
    assert 'pip install "mosaicstack-telemetry[cli]"' in done.stderr
    assert 'pip install -e ".[cli]"' in done.stderr
    assert "click is missing" in done.stderr


def test_the_missing_trio_hint_names_the_checkout_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """When trio cannot be imported after all, the usage error says how to get it from a checkout too."""
    monkeypatch.setattr("mosaicstack_telemetry.cli.demo.backend_available", lambda backend: False)
    missing = invoke("demo", "--backend", "trio")
    assert 2 == missing.exit_code
    assert 'pip install -e ".[cli]"' in missing.stderr
