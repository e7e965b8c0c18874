"""Fixtures for the reference server's tests: a running server, clients for it, the app in-process.

Every server listens on 127.0.0.1 only. Tests here use real time: the server runs on its own thread and loop, which
virtual clocks cannot see. ``postgres_cluster`` / ``postgres_url`` (a throwaway PostgreSQL, :mod:`tests._postgres`)
and ``any_storage`` (each backend in turn) serve the tests that run on both backends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from mosaicstack_telemetry import _wire
from mosaicstack_telemetry.server import SQLiteStorage, create_app
from mosaicstack_telemetry.server.keys import create_key
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread
from mosaicstack_telemetry.server.storage import Storage
from tests._postgres import PostgresCluster

from ._server_support import InProcess

#: The backends the storage contract runs on, as fixture parameters.
BACKENDS = ["sqlite", "postgres"]


@contextlib.contextmanager
def new_storage(request: pytest.FixtureRequest, backend: str) -> Iterator[Storage]:
    """A new, empty storage: in-memory SQLite, or a fresh database of the session's PostgreSQL cluster (usable from
    a fixture of any scope: the cluster is the session's)."""
    if backend == "sqlite":
        with SQLiteStorage() as sqlite:
            yield sqlite
        return
    from mosaicstack_telemetry.server.postgres import PostgresStorage

    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    try:
        store: Storage = PostgresStorage(url)
        try:
            yield store
        finally:
            store.close()
    finally:
        cluster.drop_database(url)


@pytest.fixture(params=BACKENDS)
def any_storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """A new, empty storage on each backend in turn: in-memory SQLite, then a fresh PostgreSQL database."""
    with new_storage(request, request.param) as store:
        yield store


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
