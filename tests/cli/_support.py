"""Running the command line in tests: as a subprocess (what users run) and in-process (what coverage sees)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.cli.app import cli

#: Every subprocess ends within this many seconds or the test fails (no test may hang).
DEADLINE = 60.0


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the SDK's variables (a developer's own must not leak into a test)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOSAIC_TELEMETRY_")}
    env.pop("COLUMNS", None)
    env.update(extra)
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mosaicstack_telemetry.cli", *args]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = DEADLINE, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """``mosaic-telemetry ARGS`` in a subprocess (stdout and stderr are pipes: not a terminal)."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        command(*args),
        cwd=cwd,
        env=clean_env(),
        input=None if stdin is None else stdin.decode(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def invoke(*args: str, stdin: str | bytes | None = None) -> Result:
    """``mosaic-telemetry ARGS`` in this process (click's runner), so coverage measures the command's code."""
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("MOSAIC_TELEMETRY_")})
    return runner.invoke(cli, list(args), input=stdin, catch_exceptions=False, prog_name="mosaic-telemetry")


def write_jsonl(path: Path, events: Iterable[TaskCompletionEvent], *, extra: Sequence[tuple[int, str]] = ()) -> Path:
    """One event a line; ``extra`` inserts raw lines at 1-based positions (bad lines, blank lines)."""
    lines = [event.model_dump_json() for event in events]
    for position, raw in sorted(extra):
        lines.insert(position - 1, raw)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def server_args(url: str, api_key: str, *more: str) -> list[str]:
    return ["--server-url", url, "--api-key", api_key, *more]


def parse_json(text: str) -> Any:
    """The one JSON document a ``--json`` run printed (fails the test if stdout holds anything else)."""
    return json.loads(text)
