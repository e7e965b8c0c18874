"""A threaded worker pool: one client for the process, ``track()`` from every worker thread.

``client.start()`` runs the client's sender on a daemon thread of its own; ``track()`` is lock-free and safe from
any thread. ``client.flush()`` sends what is queued now; ``client.stop()`` flushes and stops (here in ``finally``,
so it runs even if a worker fails; a client nobody stopped is still flushed at interpreter exit).

Run it::

    python examples/threaded_workers.py

It reads ``MOSAIC_TELEMETRY_SERVER_URL``/``_API_KEY``/``_INSTANCE_ID``; without them it starts a local reference
server. It sends made-up events: point it at a test server, not at production.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

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

JOBS = 20
WORKERS = 4


def handle_job(client: TelemetryClient, job: int) -> None:
    """One unit of work on a pool thread; reports its completion."""
    time.sleep(0.002)  # the work
    event = (
        client.event_builder()
        .task_type(TaskType.CODE_REVIEW)
        .model("gemini-2.5-pro")
        .provider(Provider.GOOGLE)
        .harness_type(Harness.CUSTOM)
        .complexity_level(Complexity.MEDIUM)
        .outcome_value(Outcome.SUCCESS)
        .duration_ms(5_000 + job)
        .tokens(estimated_in=12_000, estimated_out=1_000, actual_in=11_500, actual_out=900)
        .cost(estimated=20_000, actual=19_000)
        .quality(passed=True, gates_run=[QualityGate.LINT])
        .build()
    )
    client.track(event)


def main() -> None:
    client = TelemetryClient(TelemetryConfig())  # from the MOSAIC_TELEMETRY_* environment variables
    client.start()
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for future in [pool.submit(handle_job, client, job) for job in range(JOBS)]:
                future.result()
        client.flush()
        print(f"after flush: {client.stats.sent} sent, {client.queue_size} queued")
    finally:
        client.stop()
    stats = client.stats
    print(f"sent {stats.sent} of {stats.tracked} events (rejected {stats.rejected}, dropped {stats.dropped_total})")


if __name__ == "__main__":
    with telemetry_server():
        main()
