"""Fixtures for the reference server's tests: a running server, clients for it, the app in-process.

Every server listens on 127.0.0.1 only. Tests here use real time: the server runs on its own thread and loop, which
virtual clocks cannot see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from mosaicstack_telemetry import _wire
from mosaicstack_telemetry.server import SQLiteStorage, create_app
from mosaicstack_telemetry.server.keys import create_key
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread

from ._server_support import InProcess


@pytest.fixture
def reference_server() -> Iterator[ServerThread]:
    """A reference server of its own for each test: in-memory SQLite, one key, an empty fault plan."""
    with run_in_thread() as server:
        yield server


@pytest.fixture
def client(reference_server: ServerThread) -> Iterator[httpx.Client]:
    """A sync httpx client for ``reference_server``, authenticated with its key."""
    with httpx.Client(
        base_url=reference_server.url,
        headers={"Authorization": f"Bearer {reference_server.api_key}"},
        timeout=10.0,
    ) as http:
        yield http


@pytest.fixture
async def in_process() -> AsyncIterator[InProcess]:
    """The app over in-memory storage, reached through ``httpx.ASGITransport``, with a key issued."""
    storage = SQLiteStorage()
    key = create_key(storage)
    transport = httpx.ASGITransport(app=create_app(storage))
    try:
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {key.key}"},
        ) as http:
            yield InProcess(storage, key, http)
    finally:
        storage.close()


@pytest.fixture(params=["orjson", "stdlib"])
def json_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with orjson (the ``fast`` extra) and with the stdlib :mod:`json` the package falls back to."""
    if request.param == "stdlib":
        monkeypatch.setattr(_wire, "orjson", None)
    elif _wire.orjson is None:  # pragma: no cover - the test sessions install the extra
        pytest.skip("orjson is not installed")
    parser: str = request.param
    return parser
