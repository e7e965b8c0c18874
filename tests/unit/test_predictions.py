"""Predictions: fetching, the TTL cache and the background refresher, on virtual time, under asyncio and trio."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from mosaicstack_telemetry import (
    Complexity,
    PredictionCache,
    PredictionQuery,
    PredictionResponse,
    Provider,
    TaskType,
    TelemetryClient,
    TelemetryError,
)
from tests.unit.fake_server import FakeServer, config


def query(model: str = "m") -> PredictionQuery:
    return PredictionQuery(
        task_type=TaskType.IMPLEMENTATION, model=model, provider=Provider.ANTHROPIC, complexity=Complexity.MEDIUM
    )


def client_for(server: FakeServer, **overrides: Any) -> TelemetryClient:
    return TelemetryClient(config(**overrides), transport=server.transport, clock=anyio.current_time)


@pytest.mark.parametrize("started", [True, False])
async def test_refresh_then_read_from_the_cache(started: bool) -> None:
    """refresh_predictions stores parsed responses that get_prediction returns, started or not."""
    server = FakeServer()
    client = client_for(server)
    if started:
        await client.start_async()
    assert client.get_prediction(query()) is None
    await client.refresh_predictions([query(), query("other")])
    response = client.get_prediction(query())
    assert isinstance(response, PredictionResponse)
    assert response.prediction is not None
    assert 300 == response.prediction.input_tokens.median
    assert {"median": 48_000} == response.prediction.cost_usd_micros
    assert "m" == (response.metadata.dimensions_matched or {})["model"]
    assert 1 == len(server.prediction_requests)
    assert 2 == client.stats.predictions_fetched
    await client.stop_async()


async def test_no_data_reply_is_a_response_with_prediction_none() -> None:
    """`prediction: null` with confidence none and null dimensions parses into the documented models."""
    reply = {
        "results": [
            {
                "prediction": None,
                "metadata": {
                    "sample_size": 0,
                    "fallback_level": -1,
                    "confidence": "none",
                    "dimensions_matched": {"task_type": None, "model": None, "provider": None, "complexity": None},
                },
            }
        ]
    }
    server = FakeServer(prediction_replies=(httpx.Response(200, json=reply),))
    client = client_for(server)
    await client.refresh_predictions([query()])
    response = client.get_prediction(query())
    assert response is not None
    assert response.prediction is None
    assert ("none", -1) == (response.metadata.confidence, response.metadata.fallback_level)
    assert response.metadata.dimensions_matched == dict.fromkeys(("task_type", "model", "provider", "complexity"))


async def test_empty_list_is_a_no_op_and_garbage_is_a_type_error() -> None:
    """No request for []; a non-PredictionQuery raises TypeError naming its index, before any request."""
    server = FakeServer()
    client = client_for(server)
    await client.refresh_predictions([])
    with pytest.raises(TypeError, match=r"queries\[1\] is a str"):
        await client.refresh_predictions([query(), "implementation"])  # type: ignore[list-item]
    assert [] == server.prediction_requests


async def test_many_queries_are_chunked_by_100_and_repeats_dropped() -> None:
    """250 distinct queries (and repeats) go out as 100 + 100 + 50."""
    server = FakeServer()
    client = client_for(server)
    queries = [query(f"model-{i}") for i in range(250)]
    await client.refresh_predictions(queries + queries[:10])
    assert [100, 100, 50] == [len(r) for r in server.prediction_requests]
    assert all(client.get_prediction(q) is not None for q in queries)


async def test_transient_failures_are_retried_and_permanent_ones_reported_not_raised() -> None:
    """503 then 200 succeeds after a backoff; a 401 is reported to on_error and counted, nothing raised."""
    errors: list[TelemetryError] = []
    server = FakeServer(prediction_replies=(503, 200, 401))
    client = client_for(server, on_error=errors.append)
    await client.refresh_predictions([query()])
    assert client.get_prediction(query()) is not None
    assert server.prediction_request_times[1] - server.prediction_request_times[0] >= 1.0
    await client.refresh_predictions([query("x")])
    assert client.get_prediction(query("x")) is None
    assert ["HTTP 503" in str(errors[0]), "HTTP 401" in str(errors[1])] == [True, True]
    assert 2 == client.stats.prediction_failures


@pytest.mark.parametrize(
    "body",
    [b'{"results": []}', b"not json", b'{"results": [{"prediction": null}]}', b'{"answers": []}'],
    ids=["too-few", "not-json", "bad-shape", "wrong-envelope"],
)
async def test_a_malformed_reply_is_an_error_for_that_chunk_never_a_crash(body: bytes) -> None:
    """Short, unparsable or wrongly shaped replies: reported, counted, cache untouched, nothing raised."""
    errors: list[TelemetryError] = []
    server = FakeServer(prediction_replies=(httpx.Response(200, content=body),))
    client = client_for(server, on_error=errors.append)
    await client.refresh_predictions([query()])
    assert client.get_prediction(query()) is None
    assert 1 == len(errors)
    assert 1 == client.stats.prediction_failures


async def test_entries_expire_after_the_ttl() -> None:
    """A prediction is a hit until prediction_cache_ttl_seconds, then a miss (and evicted)."""
    server = FakeServer()
    client = client_for(server, prediction_cache_ttl_seconds=100)
    await client.refresh_predictions([query()])
    await anyio.sleep(99)
    assert client.get_prediction(query()) is not None
    await anyio.sleep(2)
    assert client.get_prediction(query()) is None
    assert 0 == client.prediction_cache.size


async def test_the_refresher_keeps_read_queries_fresh_and_lets_unread_ones_go() -> None:
    """Read queries are re-fetched together before expiry (old entry readable meanwhile); unread ones expire."""
    server = FakeServer()
    async with client_for(server, prediction_cache_ttl_seconds=600) as client:
        await client.refresh_predictions([query("read"), query("unread")])
        for _ in range(20):  # read one query every 100 s for ~33 minutes: it never goes missing
            await anyio.sleep(100)
            response = client.get_prediction(query("read"))
            assert response is not None
        assert response.metadata.sample_size > 1  # type: ignore[union-attr]  # refreshed at least once
        assert client.get_prediction(query("unread")) is None
        refreshes = server.prediction_requests[1:]
        assert refreshes
        assert all(r == [query("read").model_dump(mode="json")] for r in refreshes)


async def test_a_failed_refresh_keeps_the_old_entry_until_it_expires() -> None:
    """Stale-while-revalidate: refresh failures leave the old prediction readable until its TTL ends."""
    server = FakeServer(prediction_replies=(200, *([503] * 50)))
    async with client_for(server, prediction_cache_ttl_seconds=600, max_retries=0) as client:
        await client.refresh_predictions([query()])
        await anyio.sleep(10)
        assert client.get_prediction(query()) is not None  # read: the refresher will try to keep it fresh
        await anyio.sleep(585)
        assert client.get_prediction(query()) is not None
        assert len(server.prediction_requests) > 1  # the refresher tried
        await anyio.sleep(10)
        assert client.get_prediction(query()) is None


async def test_configured_queries_are_prefetched_at_start() -> None:
    """config.prefetch_predictions are fetched as soon as the client starts."""
    server = FakeServer()
    async with client_for(server, prefetch_predictions=[query("warm")]) as client:
        await anyio.sleep(1)
        assert client.get_prediction(query("warm")) is not None


async def test_disabled_client_fetches_nothing() -> None:
    """enabled=False: refresh_predictions is a no-op (no HTTP client is ever created)."""
    server = FakeServer()
    client = client_for(server, enabled=False)
    await client.refresh_predictions([query()])
    assert [] == server.prediction_requests


def test_cache_evicts_expired_entries_on_put_so_it_cannot_grow() -> None:
    """Entries nobody reads are swept out by later puts once expired."""
    now = [0.0]
    cache = PredictionCache(ttl_seconds=10, clock=lambda: now[0])
    response = PredictionResponse.model_validate(
        {"prediction": None, "metadata": {"sample_size": 0, "fallback_level": -1, "confidence": "none"}}
    )
    for index in range(100):
        cache.put(query(f"m{index}"), response)
    assert 100 == cache.size
    now[0] = 11.0
    cache.put(query("fresh"), response)
    assert 1 == cache.size
    cache.clear()
    assert 0 == len(cache)


@pytest.mark.parametrize("ttl", [0, -1.0, "6h"])
def test_cache_ttl_must_be_positive(ttl: object) -> None:
    """PredictionCache(ttl_seconds=…) names a bad value."""
    with pytest.raises(ValueError, match=f"ttl_seconds={ttl!r} must be a positive number"):
        PredictionCache(ttl_seconds=ttl)  # type: ignore[arg-type]
