"""Virtual time for the unit tests: sleeps, timeouts and backoff take no wall-clock time.

trio: ``MockClock(autojump_threshold=0)`` jumps to the next deadline as soon as every task is blocked. asyncio: the
``looptime`` event loop does the same (its pytest plugin is disabled in pyproject; we pass the loop factory to
anyio ourselves). Nothing here may wait on an OS thread or a real socket: autojump would not see it.
"""

from __future__ import annotations

import sys
from typing import Any

import looptime
import pytest
from trio.testing import MockClock


def _looptime_loop() -> Any:
    return looptime.new_event_loop(start=0.0)


#: looptime 0.8+ needs Python 3.11; 0.7, the last for 3.10, fails inside its patched ``select`` (IndexError: pop from
#: empty list) on some timer patterns and the test hangs. On 3.10 the trio MockClock runs these tests; asyncio runs
#: them on 3.11+ (and on real time in tests/integration on every version).
_ASYNCIO_VIRTUAL_TIME = pytest.param(
    "asyncio",
    marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="looptime 0.7 (Python 3.10) hangs: see conftest"),
)


@pytest.fixture(params=[_ASYNCIO_VIRTUAL_TIME, "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """A fresh virtual clock for every test."""
    if request.param == "trio":
        return ("trio", {"clock": MockClock(autojump_threshold=0)})
    return ("asyncio", {"loop_factory": _looptime_loop})
