"""An asyncio application: ``async with TelemetryClient(config)``, events tracked from concurrent tasks.

The client's core runs as a task of its own on the running loop; ``track()`` is a plain synchronous call that only
queues, so it is safe anywhere (coroutines, callbacks, other threads). ``await client.flush_async()`` sends what is
queued now; leaving the ``async with`` block flushes and stops the core.

Run it::

    python examples/asyncio_app.py

It reads ``MOSAIC_TELEMETRY_SERVER_URL``/``_API_KEY``/``_INSTANCE_ID``; without them it starts a local reference
server. It sends made-up events: point it at a test server, not at production.
"""

from __future__ import annotations

import asyncio

from _server import telemetry_server

from mosaicstack_telemetry import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)

AGENTS = 4


async def coding_agent(client: TelemetryClient, number: int) -> None:
    """One simulated agent task; reports its completion."""
    await asyncio.sleep(0.01 * number)  # the work
    event = (
        client.event_builder()
        .task_type(TaskType.TESTING)
        .model("claude-haiku-4-5-20251001")
        .provider(Provider.ANTHROPIC)
        .harness_type(Harness.API_DIRECT)
        .complexity_level(Complexity.LOW)
        .outcome_value(Outcome.SUCCESS if number % 2 == 0 else Outcome.PARTIAL)
        .duration_ms(10 * number)
        .tokens(estimated_in=2_000, estimated_out=800, actual_in=2_100 + number, actual_out=750)
        .cost(estimated=3_000, actual=3_100)
        .quality(passed=number % 2 == 0)
        .build()
    )
    client.track(event)


async def main() -> None:
    config = TelemetryConfig()  # from the MOSAIC_TELEMETRY_* environment variables
    async with TelemetryClient(config) as client:
        await asyncio.gather(*(coding_agent(client, number) for number in range(AGENTS)))
        await client.flush_async()  # send now instead of at the next interval
        print(f"after flush: {client.stats.sent} sent, {client.queue_size} queued")
    stats = client.stats
    print(f"sent {stats.sent} of {stats.tracked} events (rejected {stats.rejected}, dropped {stats.dropped_total})")


if __name__ == "__main__":
    with telemetry_server():
        asyncio.run(main())
