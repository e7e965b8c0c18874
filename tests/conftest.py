"""Shared fixtures: every async test runs under asyncio and trio (anyio's pytest plugin), on real time.

Tests that want virtual time (backoff, intervals, TTLs driven instantly) live in ``tests/unit/``, whose conftest
swaps in trio's ``MockClock`` and asyncio's ``looptime`` loop. Tests that cross OS threads or talk to a real server
use real time (autojump ignores threads and sockets).

A throwaway PostgreSQL (:mod:`tests._postgres`: ``postgres_cluster``, one per test session, and ``postgres_url``,
a fresh database per test) serves every package that needs one.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._postgres import postgres_cluster, postgres_url, pytest_runtest_makereport  # noqa: F401 - fixtures, hook


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"debug": True}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    backend: tuple[str, dict[str, Any]] = request.param
    return backend
