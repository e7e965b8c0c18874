"""A web service (Starlette; FastAPI's lifespan is the same pattern): the client lives as long as the app.

The lifespan enters ``async with TelemetryClient(config)`` on startup and leaves it on shutdown, which flushes what
is queued; handlers reach the client through the lifespan state (``request.state.telemetry``) and call ``track()``,
which only queues: a request never waits for telemetry.

Serve it with uvicorn (installed with the ``server`` extra)::

    uvicorn --app-dir examples starlette_lifespan:app

or run it as a script: it then drives itself with Starlette's ``TestClient`` (which runs the lifespan) and posts
three completed tasks. It reads ``MOSAIC_TELEMETRY_SERVER_URL``/``_API_KEY``/``_INSTANCE_ID``; without them it
starts a local reference server. It sends made-up events: point it at a test server, not at production.

With FastAPI, only the app and route declarations change (``app = FastAPI(lifespan=lifespan)``,
``@app.post("/tasks/complete")``); the lifespan function is the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from _server import telemetry_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mosaicstack_telemetry import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
    ValidationError,
)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, TelemetryClient]]:
    """Start telemetry with the app, flush and stop it on shutdown."""
    config = TelemetryConfig()  # from the MOSAIC_TELEMETRY_* environment variables
    async with TelemetryClient(config) as telemetry:
        yield {"telemetry": telemetry}
    stats = telemetry.stats
    print(f"sent {stats.sent} of {stats.tracked} events (rejected {stats.rejected}, dropped {stats.dropped_total})")


async def complete_task(request: Request) -> JSONResponse:
    """Record a completed AI coding task posted as JSON."""
    telemetry: TelemetryClient = request.state.telemetry
    body = await request.json()
    try:
        event = (
            telemetry.event_builder()
            .task_type(TaskType(body["task_type"]))
            .model(body["model"])
            .provider(Provider(body["provider"]))
            .harness_type(Harness.CLAUDE_CODE)
            .complexity_level(Complexity(body["complexity"]))
            .outcome_value(Outcome(body["outcome"]))
            .duration_ms(body["duration_ms"])
            .tokens(actual_in=body["actual_input_tokens"], actual_out=body["actual_output_tokens"])
            .cost(actual=body["actual_cost_usd_micros"])
            .quality(passed=body["outcome"] == "success")
            .build()
        )
    except (KeyError, ValueError) as error:  # ValidationError is a ValueError: it lists every bad field
        detail = str(error) if isinstance(error, ValidationError) else f"bad request: {error!r}"
        return JSONResponse({"detail": detail}, status_code=422)
    telemetry.track(event)  # never blocks the request, never raises
    return JSONResponse({"status": "tracked", "event_id": str(event.event_id)})


app = Starlette(routes=[Route("/tasks/complete", complete_task, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    from starlette.testclient import TestClient  # noqa: PLC0415 - only for the self-driving demo

    with TestClient(app) as http:  # runs the lifespan: startup now, shutdown (and flush) at the end of the block
        for number in range(3):
            reply = http.post(
                "/tasks/complete",
                json={
                    "task_type": "implementation",
                    "model": "claude-sonnet-4-20250514",
                    "provider": "anthropic",
                    "complexity": "medium",
                    "outcome": "success",
                    "duration_ms": 40_000 + number,
                    "actual_input_tokens": 5_200,
                    "actual_output_tokens": 1_800,
                    "actual_cost_usd_micros": 48_000,
                },
            )
            print(reply.status_code, reply.json()["status"])
        bad = http.post("/tasks/complete", json={"task_type": "painting"})
        print(bad.status_code, "for a bad task type")


if __name__ == "__main__":
    with telemetry_server():
        main()
