"""Virtual time for the unit tests: sleeps, timeouts and backoff take no wall-clock time.

trio: ``MockClock(autojump_threshold=0)`` jumps to the next deadline as soon as every task is blocked. asyncio: the
``looptime`` event loop does the same (its pytest plugin is disabled in pyproject; we pass the loop factory to
anyio ourselves). Nothing here may wait on an OS thread or a real socket: autojump would not see it.
"""

from __future__ import annotations

from typing import Any

import looptime
import pytest
from trio.testing import MockClock


def _looptime_loop() -> Any:
    return looptime.new_event_loop(start=0.0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """A fresh virtual clock for every test."""
    if request.param == "trio":
        return ("trio", {"clock": MockClock(autojump_threshold=0)})
    return ("asyncio", {"loop_factory": _looptime_loop})
