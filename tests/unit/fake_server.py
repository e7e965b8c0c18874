"""A scripted stand-in for the telemetry server behind ``httpx.MockTransport``, for unit tests on virtual time."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from mosaicstack_telemetry import TelemetryConfig

API_KEY = "0123456789abcdef" * 4
INSTANCE_ID = "12345678-1234-4234-8234-123456789abc"

#: A scripted reply: a status code, a ready response, an exception to raise, "hang" (sleep forever), a float (that
#: many seconds of delay, then the default success), or (seconds, status): a delay, then that status.
Reply = int | float | tuple[float, int] | httpx.Response | Exception | str


def config(**overrides: Any) -> TelemetryConfig:
    """A valid config pointing at the fake server (which nothing actually dials)."""
    values: dict[str, Any] = {
        "server_url": "http://telemetry.test",
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
        "submit_interval_seconds": 60.0,
    }
    values.update(overrides)
    return TelemetryConfig(**values)


class FakeServer:
    """Answers ``POST /v1/events/batch`` from a script of replies, then with 202 and per-event ``accepted``."""

    def __init__(
        self,
        *replies: Reply,
        verdict: Callable[[dict[str, Any]], str | None] | None = None,
        prediction_replies: tuple[Reply, ...] = (),
    ) -> None:
        self.script: deque[Reply] = deque(replies)
        self.prediction_script: deque[Reply] = deque(prediction_replies)
        self.prediction_requests: list[list[dict[str, Any]]] = []
        self.prediction_request_times: list[float] = []
        self.verdict = verdict  # event dict -> None (accept) or a rejection reason
        self.requests: list[httpx.Request] = []
        self.request_times: list[float] = []
        self.delivered: list[dict[str, Any]] = []

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/predictions/batch":
            return await self.predict(request)
        self.requests.append(request)
        self.request_times.append(anyio.current_time())
        status = await _play(self.script, default=202)
        if isinstance(status, httpx.Response):
            return status
        events = json.loads(request.content)["events"]
        results = []
        for event in events:
            reason = self.verdict(event) if self.verdict else None
            if reason is None:
                self.delivered.append(event)
                results.append({"event_id": event["event_id"], "status": "accepted", "error": None})
            else:
                results.append({"event_id": event["event_id"], "status": "rejected", "error": reason})
        accepted = sum(r["status"] == "accepted" for r in results)
        body = {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
        return httpx.Response(status, json=body)

    async def predict(self, request: httpx.Request) -> httpx.Response:
        """Answer each query with a prediction whose sample_size counts the requests so far (to tell fetches apart)."""
        queries = json.loads(request.content)["queries"]
        self.prediction_requests.append(queries)
        self.prediction_request_times.append(anyio.current_time())
        status = await _play(self.prediction_script, default=200)
        if isinstance(status, httpx.Response):
            return status
        generation = len(self.prediction_requests)
        return httpx.Response(status, json={"results": [prediction(query, generation) for query in queries]})

    @property
    def batch_sizes(self) -> list[int]:
        return [len(json.loads(r.content)["events"]) for r in self.requests]


async def _play(script: deque[Reply], *, default: int) -> int | httpx.Response:
    """The next scripted reply: hang, raise, a ready response (an error status becomes one), or a 2xx status."""
    reply: Reply = script.popleft() if script else default
    if isinstance(reply, float):
        reply = (reply, default)
    if isinstance(reply, tuple):
        delay, reply = reply
        await anyio.sleep(delay)
    if reply == "hang":
        await anyio.sleep_forever()
    if isinstance(reply, Exception):
        raise reply
    if isinstance(reply, httpx.Response):
        return reply
    assert isinstance(reply, int)
    if reply >= 300:
        return httpx.Response(reply, json={"detail": f"scripted {reply}"})
    return reply


def prediction(query: dict[str, Any], sample_size: int) -> dict[str, Any]:
    """A full prediction reply for one query, on the wire."""
    tokens = {"p10": 100, "p25": 200, "median": 300, "p75": 400, "p90": 500}
    return {
        "prediction": {
            "input_tokens": tokens,
            "output_tokens": tokens,
            "cost_usd_micros": {"median": 48_000},
            "duration_ms": {"median": 45_000},
            "correction_factors": {"input": 1.1, "output": 0.9},
            "quality": {"gate_pass_rate": 0.8, "success_rate": 0.75},
        },
        "metadata": {
            "sample_size": sample_size,
            "fallback_level": 0,
            "confidence": "low",
            "last_updated": "2026-11-23T12:00:00+00:00",
            "dimensions_matched": {k: query[k] for k in ("task_type", "model", "provider", "complexity")},
            "fallback_note": None,
            "cache_hit": False,
        },
    }
