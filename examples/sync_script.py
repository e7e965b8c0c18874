"""A plain sync script: the client's ``with`` block around the work, one event per finished task.

The client runs its background sender on a daemon thread of its own; ``track()`` only queues. Leaving the ``with``
block sends what is queued (bounded by ``shutdown_timeout_seconds``) and stops that thread.

Run it::

    python examples/sync_script.py

It reads ``MOSAIC_TELEMETRY_SERVER_URL``/``_API_KEY``/``_INSTANCE_ID``; without them it starts a local reference
server. It sends made-up events: point it at a test server, not at production.
"""

from __future__ import annotations

import time

from _server import telemetry_server

from mosaicstack_telemetry import (
    Complexity,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    RepoSizeCategory,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)

TASKS = 3


def run_coding_task(number: int) -> dict[str, int]:
    """Stand-in for real work: returns the task's token counts and cost."""
    time.sleep(0.01)
    return {"input_tokens": 4_000 + 500 * number, "output_tokens": 1_500 + 100 * number, "cost_micros": 45_000}


def main() -> None:
    config = TelemetryConfig()  # server_url, api_key, instance_id from MOSAIC_TELEMETRY_* environment variables
    with TelemetryClient(config) as client:
        for number in range(TASKS):
            started = time.monotonic()
            result = run_coding_task(number)
            event = (
                client.event_builder()  # an EventBuilder preset with config.instance_id
                .task_type(TaskType.IMPLEMENTATION)
                .model("claude-sonnet-4-20250514")
                .provider(Provider.ANTHROPIC)
                .harness_type(Harness.AIDER)
                .complexity_level(Complexity.MEDIUM)
                .outcome_value(Outcome.SUCCESS)
                .duration_ms(int((time.monotonic() - started) * 1000))
                .tokens(
                    estimated_in=5_000,
                    estimated_out=2_000,
                    actual_in=result["input_tokens"],
                    actual_out=result["output_tokens"],
                )
                .cost(estimated=50_000, actual=result["cost_micros"])
                .quality(passed=True, gates_run=[QualityGate.LINT, QualityGate.TEST])
                .context(compactions=0, rotations=0, utilization=0.4)
                .language("python")
                .repo_size(RepoSizeCategory.MEDIUM)
                .build()
            )
            client.track(event)  # never blocks, never raises
            print(f"tracked task {number}: event {event.event_id}")
    # The with block has sent everything (or counted what it could not send).
    stats = client.stats
    print(f"sent {stats.sent} of {stats.tracked} events (rejected {stats.rejected}, dropped {stats.dropped_total})")


if __name__ == "__main__":
    with telemetry_server():
        main()
