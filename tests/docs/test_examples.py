"""Every script in ``examples/`` runs against the reference server, and the events it reports arrive.

Each example reads its server from ``MOSAIC_TELEMETRY_SERVER_URL``, ``MOSAIC_TELEMETRY_API_KEY`` and
``MOSAIC_TELEMETRY_INSTANCE_ID`` (``TelemetryConfig()``). The test starts a reference server of its own with
``run_in_thread()`` (127.0.0.1, a free port, in-memory storage), runs the script in a subprocess with those three
variables set (every other ``MOSAIC_TELEMETRY_*`` variable removed), bounded by :data:`TIMEOUT_SECONDS`, and checks
that it exits with status 0, prints what it promises, and that the server stored exactly the events it tracked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mosaicstack_telemetry.config import ENV_API_KEY, ENV_INSTANCE_ID, ENV_SERVER_URL
from mosaicstack_telemetry.server import ServerThread, run_in_thread

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT_SECONDS = 30.0

#: script, arguments, events it tracks, lines its output must contain
CASES = [
    pytest.param("sync_script.py", [], 3, ["tracked task 2:", "sent 3 of 3 events"], id="sync_script"),
    pytest.param("asyncio_app.py", [], 4, ["after flush: 4 sent, 0 queued", "sent 4 of 4 events"], id="asyncio_app"),
    pytest.param("trio_app.py", [], 4, ["sent 4 of 4 events"], id="trio_app"),
    pytest.param(
        "anyio_service.py",
        ["--backend", "asyncio"],
        12,
        ["(12 events)", "sent 12 of 12 events"],
        id="anyio_service-asyncio",
    ),
    pytest.param(
        "anyio_service.py",
        ["--backend", "trio"],
        12,
        ["(12 events)", "sent 12 of 12 events"],
        id="anyio_service-trio",
    ),
    pytest.param(
        "threaded_workers.py", [], 20, ["after flush: 20 sent, 0 queued", "sent 20 of 20 events"], id="threaded_workers"
    ),
    pytest.param(
        "starlette_lifespan.py", [], 3, ["200 tracked", "422 for a bad task type", "sent 3 of 3 events"], id="starlette"
    ),
    pytest.param(
        "predictions_report.py",
        [],
        6,
        [
            "implementation/medium: input tokens median 5300",
            "3 events, confidence low, fallback level 0",
            "implementation/low:",
            "fallback level 1",
            "3 predictions fetched",
        ],
        id="predictions_report",
    ),
]


@pytest.fixture
def server() -> Iterator[ServerThread]:
    """A reference server of this test's own."""
    with run_in_thread() as running:
        yield running


def example_environment(server: ServerThread) -> dict[str, str]:
    """This process's environment without any MOSAIC_TELEMETRY_* variable, plus the three that name ``server``."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MOSAIC_TELEMETRY_")}
    environment[ENV_SERVER_URL] = server.url
    environment[ENV_API_KEY] = server.api_key
    environment[ENV_INSTANCE_ID] = str(server.instance_id)
    return environment


@pytest.mark.parametrize(("script", "arguments", "events", "expected_lines"), CASES)
def test_example_runs_against_the_reference_server(
    server: ServerThread, script: str, arguments: list[str], events: int, expected_lines: list[str]
) -> None:
    """The example exits 0, prints what it promises, and the server stored every event it tracked."""
    finished = subprocess.run(  # noqa: S603 - our own interpreter running our own example
        [sys.executable, str(EXAMPLES / script), *arguments],
        env=example_environment(server),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    output = finished.stdout
    assert 0 == finished.returncode, f"stdout:\n{output}\nstderr:\n{finished.stderr}"
    assert "" == finished.stderr
    assert "local reference server" not in output  # it used the server it was given
    missing = [line for line in expected_lines if line not in output]
    assert [] == missing, output
    assert events == server.storage.count_events()


def test_every_example_is_tested() -> None:
    """A new script in examples/ cannot be forgotten here (``_``-prefixed files are helpers, not examples)."""
    scripts = {path.name for path in EXAMPLES.glob("*.py") if not path.name.startswith("_")}
    tested = {param.values[0] for param in CASES}
    assert scripts == tested
