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

#: A scripted reply: a status code, a ready response, an exception to raise, or "hang" (sleep forever).
Reply = int | httpx.Response | Exception | str


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
        self, *replies: Reply, verdict: Callable[[dict[str, Any]], str | None] | None = None
    ) -> None:
        self.script: deque[Reply] = deque(replies)
        self.verdict = verdict  # event dict -> None (accept) or a rejection reason
        self.requests: list[httpx.Request] = []
        self.request_times: list[float] = []
        self.delivered: list[dict[str, Any]] = []

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.request_times.append(anyio.current_time())
        reply: Reply = self.script.popleft() if self.script else 202
        if reply == "hang":
            await anyio.sleep_forever()
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        assert isinstance(reply, int)
        if reply >= 300:
            return httpx.Response(reply, json={"detail": f"scripted {reply}"})
        events = json.loads(request.content)["events"]
        results = []
        for event in events:
            reason = self.verdict(event) if self.verdict else None
            if reason is None:
                self.delivered.append(event)
                results.append({"event_id": event["event_id"], "status": "accepted", "error": None})
            else:
                results.append(
                    {"event_id": event["event_id"], "status": "rejected", "error": reason}
                )
        accepted = sum(r["status"] == "accepted" for r in results)
        body = {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
        return httpx.Response(reply, json=body)

    @property
    def batch_sizes(self) -> list[int]:
        return [len(json.loads(r.content)["events"]) for r in self.requests]
