"""An anyio service: backend-agnostic code that runs unchanged on asyncio or trio.

A pool of workers takes jobs from a memory object stream and reports each finished job; the client lives exactly
as long as the service (``async with``). ``prefetch_predictions`` fetches the prediction the service needs as soon as
the client starts, and the client keeps it fresh while it is read; ``await client.refresh_predictions(...)`` fetches
on demand (here: again after the jobs, so the prediction includes them).

Run it on either backend::

    python examples/anyio_service.py --backend asyncio
    python examples/anyio_service.py --backend trio

It reads ``MOSAIC_TELEMETRY_SERVER_URL``/``_API_KEY``/``_INSTANCE_ID``; without them it starts a local reference
server. It sends made-up events: point it at a test server, not at production.
"""

from __future__ import annotations

import argparse

import anyio
from _server import telemetry_server
from anyio.streams.memory import MemoryObjectReceiveStream

from mosaicstack_telemetry import (
    Complexity,
    Harness,
    Outcome,
    PredictionQuery,
    Provider,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)

JOBS = 12
WORKERS = 3
QUERY = PredictionQuery(
    task_type=TaskType.REFACTORING,
    model="claude-sonnet-4-20250514",
    provider=Provider.ANTHROPIC,
    complexity=Complexity.MEDIUM,
)


async def worker(client: TelemetryClient, jobs: MemoryObjectReceiveStream[int]) -> None:
    """Run jobs until the stream is closed; report each one."""
    async with jobs:
        async for job in jobs:
            await anyio.sleep(0.005)  # the work
            event = (
                client.event_builder()
                .task_type(QUERY.task_type)
                .model(QUERY.model)
                .provider(QUERY.provider)
                .complexity_level(QUERY.complexity)
                .harness_type(Harness.CLAUDE_CODE)
                .outcome_value(Outcome.SUCCESS if job % 4 else Outcome.FAILURE)
                .duration_ms(30_000 + 1_000 * job)
                .tokens(estimated_in=8_000, estimated_out=3_000, actual_in=8_000 + 250 * job, actual_out=2_800)
                .cost(estimated=70_000, actual=68_000 + 1_000 * job)
                .quality(passed=job % 4 != 0)
                .build()
            )
            client.track(event)


async def main() -> None:
    # Environment variables for the server; explicit values for the rest.
    config = TelemetryConfig(submit_interval_seconds=60.0, prefetch_predictions=[QUERY])
    async with TelemetryClient(config) as client:
        send, receive = anyio.create_memory_object_stream[int](max_buffer_size=WORKERS)
        async with anyio.create_task_group() as workers:
            for _ in range(WORKERS):
                workers.start_soon(worker, client, receive.clone())
            receive.close()
            async with send:
                for job in range(JOBS):
                    await send.send(job)
        await client.flush_async()
        await client.refresh_predictions([QUERY])
        response = client.get_prediction(QUERY)
        if response is not None and response.prediction is not None:
            data = response.prediction
            print(
                f"refactoring on claude-sonnet-4: median {data.input_tokens.median} input tokens, "
                f"success rate {data.quality.success_rate:.0%} ({response.metadata.sample_size} events)"
            )
    stats = client.stats
    print(f"sent {stats.sent} of {stats.tracked} events (rejected {stats.rejected}, dropped {stats.dropped_total})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    arguments = parser.parse_args()
    with telemetry_server():
        anyio.run(main, backend=arguments.backend)
