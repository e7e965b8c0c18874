"""The in-thread runner, end to end: real batches over loopback with httpx (asyncio and trio), concurrent writers,
lifecycle."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from mosaicstack_telemetry._protocol import (
    EVENTS_PATH,
    PREDICTIONS_PATH,
    decode_prediction_response,
    encode_prediction_request,
)
from mosaicstack_telemetry.batch import BatchEventResponse
from mosaicstack_telemetry.predictions import PredictionQuery
from mosaicstack_telemetry.server import SQLiteStorage
from mosaicstack_telemetry.server.backends import database_errors
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread

from ._server_support import query, wire_event


async def test_post_batches_and_read_predictions_back(reference_server: ServerThread) -> None:
    """The issue's "done when": start the server, post real batches with httpx, read predictions back — from an
    asyncio or a trio test alike (the server has its own thread and loop)."""
    headers = {
        "Authorization": f"Bearer {reference_server.api_key}",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient(base_url=reference_server.url, headers=headers) as http:
        for batch in range(3):
            events = [
                wire_event(reference_server.instance_id, actual_input_tokens=1_000 * batch + i) for i in range(1, 101)
            ]
            response = await http.post(EVENTS_PATH, json={"events": events})
            assert 200 == response.status_code
            assert 100 == BatchEventResponse.model_validate_json(response.content).accepted
        queries = [PredictionQuery.model_validate(query()), PredictionQuery.model_validate(query(task_type="testing"))]
        response = await http.post(PREDICTIONS_PATH, content=encode_prediction_request(queries))
    assert 200 == response.status_code
    found, missing = decode_prediction_response(response.content)
    assert found.prediction is not None
    # 300 values: 1..100, 1001..1100, 2001..2100; the median is the 150th (1050), p90 the 270th (2070).
    assert 1_050 == found.prediction.input_tokens.median
    assert 2_070 == found.prediction.input_tokens.p90
    assert (0, 300, "high") == (
        found.metadata.fallback_level,
        found.metadata.sample_size,
        found.metadata.confidence,
    )
    assert missing.prediction is None
    assert -1 == missing.metadata.fallback_level


@pytest.fixture(params=["memory", "file"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStorage]:
    path = None if request.param == "memory" else tmp_path / "events.sqlite3"
    with SQLiteStorage(path) as store:
        yield store


def test_concurrent_writers_store_every_event(storage: SQLiteStorage) -> None:
    """8 clients × 1,000 events (10 batches of 100 each), all at once: exactly 8,000 stored, none lost, no
    "database is locked"."""
    failures: list[BaseException] = []
    with run_in_thread(storage=storage) as server:
        start = threading.Barrier(8)

        def writer() -> None:
            try:
                with httpx.Client(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {server.api_key}"},
                    timeout=30.0,
                ) as http:
                    start.wait()
                    for _ in range(10):
                        events = [wire_event(server.instance_id) for _ in range(100)]
                        reply = http.post(EVENTS_PATH, json={"events": events})
                        assert 200 == reply.status_code, reply.text
                        assert 100 == reply.json()["accepted"]
            except BaseException as error:  # reported below, from the test's thread
                failures.append(error)

        threads = [threading.Thread(target=writer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert [] == failures
    assert 8_000 == storage.count_events()


def test_url_key_and_instance(reference_server: ServerThread) -> None:
    assert f"http://127.0.0.1:{reference_server.port}" == reference_server.url
    assert 64 == len(reference_server.api_key)
    assert isinstance(reference_server.instance_id, UUID)
    assert 200 == httpx.get(f"{reference_server.url}/healthz").status_code


def test_fixed_key_and_instance() -> None:
    key = "0123456789abcdef" * 4
    instance = "12345678-1234-4234-8234-123456789abc"
    with run_in_thread(api_key=key, instance_id=instance) as server:
        assert (key, UUID(instance)) == (server.api_key, server.instance_id)
        reply = httpx.post(
            f"{server.url}{EVENTS_PATH}",
            json={"events": [wire_event(instance)]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert 1 == reply.json()["accepted"]


def test_more_keys(reference_server: ServerThread) -> None:
    other = reference_server.create_key()
    assert other.instance_id != reference_server.instance_id
    reply = httpx.post(
        f"{reference_server.url}{EVENTS_PATH}",
        json={"events": [wire_event(other.instance_id)]},
        headers={"Authorization": f"Bearer {other.key}"},
    )
    assert 1 == reply.json()["accepted"]


def test_storage_passed_in_stays_open_and_owned_storage_closes() -> None:
    with SQLiteStorage() as storage:
        with run_in_thread(storage=storage) as server:
            assert server.storage is storage
        assert 0 == storage.count_events()  # still open
    owned = ServerThread()
    owned.start()
    owned.stop()
    with pytest.raises(RuntimeError, match="closed"):
        owned.storage.count_events()


def test_owned_storage_closes_when_construction_fails(postgres_url: str) -> None:
    """A key already stored makes the constructor fail after it opened the database: the pool it opened is closed
    (its threads gone), not leaked."""
    key = "fedcba9876543210" * 4
    with run_in_thread(database_url=postgres_url, api_key=key):
        pass
    before = set(threading.enumerate())
    with pytest.raises(database_errors()):
        ServerThread(database_url=postgres_url, api_key=key)
    assert [] == [thread.name for thread in set(threading.enumerate()) - before if thread.is_alive()]


def test_lifecycle_errors() -> None:
    server = ServerThread()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    server.start()
    with pytest.raises(RuntimeError, match="starts once"):
        server.start()
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="starts once"):
        server.start()


def test_port_in_use_fails_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = ServerThread(port=taken.getsockname()[1])
        with pytest.raises(OSError, match="in use"):
            server.start()
        server.stop()


def test_a_stopped_server_refuses_connections() -> None:
    with run_in_thread() as server:
        url = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz")


def test_replies_are_not_held_back_by_nagle(reference_server: ServerThread, client: httpx.Client) -> None:
    """Accepted sockets get TCP_NODELAY: without it every reply waited ~40 ms for a delayed ACK (the benchmark
    found it), because uvicorn writes a reply's head and body separately."""
    listener = reference_server._socket
    assert listener is not None
    assert socket.IPPROTO_TCP == listener.proto
    samples = []
    for _ in range(10):
        started = time.perf_counter()
        client.get("/healthz")
        samples.append(time.perf_counter() - started)
    assert statistics.median(samples) < 0.03
