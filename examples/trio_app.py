"""A trio application: the same ``async with TelemetryClient(config)``, natively under trio.

The client's core runs as a trio system task, never inside your nurseries' cancel scopes: cancelling your work does
not cancel the client, and a failure inside the client never cancels your code. Leaving the ``async with`` block
flushes and stops it.

Run it (needs trio: ``pip install "mosaicstack-telemetry[trio]"``)::

    python examples/trio_app.py

It reads ``MOSAIC_TELEMETRY_SERVER_URL``/``_API_KEY``/``_INSTANCE_ID``; without them it starts a local reference
server. It sends made-up events: point it at a test server, not at production.
"""

from __future__ import annotations

import trio
from _server import telemetry_server

from mosaicstack_telemetry import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)

AGENTS = 4


async def coding_agent(client: TelemetryClient, number: int) -> None:
    """One simulated agent task; reports its completion."""
    await trio.sleep(0.01 * number)  # the work
    event = (
        client.event_builder()
        .task_type(TaskType.DEBUGGING)
        .model("gpt-4.1")
        .provider(Provider.OPENAI)
        .harness_type(Harness.OPENCODE)
        .complexity_level(Complexity.HIGH)
        .outcome_value(Outcome.SUCCESS)
        .duration_ms(1_000 + number)
        .tokens(estimated_in=20_000, estimated_out=6_000, actual_in=22_000, actual_out=5_500)
        .cost(estimated=90_000, actual=95_000)
        .quality(passed=True, gates_run=[QualityGate.BUILD, QualityGate.TEST])
        .build()
    )
    client.track(event)


async def main() -> None:
    config = TelemetryConfig()  # from the MOSAIC_TELEMETRY_* environment variables
    async with TelemetryClient(config) as client:
        async with trio.open_nursery() as nursery:
            for number in range(AGENTS):
                nursery.start_soon(coding_agent, client, number)
        # Cancelling our own work leaves the client alone: it keeps what was tracked and sends it on exit.
        with trio.move_on_after(0.01):
            await trio.sleep_forever()
    stats = client.stats
    print(f"sent {stats.sent} of {stats.tracked} events (rejected {stats.rejected}, dropped {stats.dropped_total})")


if __name__ == "__main__":
    with telemetry_server():
        trio.run(main)
