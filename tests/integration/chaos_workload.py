"""The workload process of the chaos test (``test_chaos.py``): tracks events with known ids and reports each one.

    python chaos_workload.py SETTINGS_JSON

It tracks events ``first`` … ``last - 1`` (ids derived from the seed, so a second run that re-tracks an index the
first run reached sends the same event), and after each ``track()`` returns it appends ``index monotonic_ns`` to the
report file — with a raw ``write`` so that a ``kill -9`` keeps every line written. At the end it flushes until nothing
is waiting (bounded), stops the client, and writes the client's final stats as JSON next to the report.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid

from mosaicstack_telemetry import EventBuilder, TelemetryClient, TelemetryConfig


def event_id(seed: int, index: int) -> uuid.UUID:
    return uuid.UUID(int=(seed << 64) | index, version=4)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)d %(levelname)s %(message)s")
    settings = json.loads(sys.argv[1])
    seed, first, last = settings["seed"], settings["first"], settings["last"]
    config = TelemetryConfig(
        server_url=settings["url"],
        api_key=settings["api_key"],
        instance_id=settings["instance_id"],
        spool_path=settings["spool"],
        batch_size=50,
        submit_interval_seconds=0.2,
        request_timeout_seconds=1.0,
        max_retries=2,
        shutdown_timeout_seconds=20.0,
    )
    client = TelemetryClient(config, sync_backend=settings["backend"])
    builder = EventBuilder(instance_id=settings["instance_id"]).model("claude-sonnet-4-20250514")
    report = os.open(settings["report"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    pause = 1.0 / settings["rate"]
    client.start()
    next_at = time.monotonic()
    for index in range(first, last):
        event = builder.duration_ms(index).event_id(event_id(seed, index)).build()
        client.track(event)
        os.write(report, f"{index} {time.monotonic_ns()}\n".encode())
        next_at += pause
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    # Like a service that keeps running: once the controller stops breaking things, the backlog drains.
    deadline = time.monotonic() + settings["drain_seconds"]
    while (client.stats.queued or client.stats.in_flight) and time.monotonic() < deadline:
        client.flush()
        time.sleep(0.1)
    client.stop()
    stats = client.stats
    with open(settings["report"] + ".stats.json", "w", encoding="utf-8") as file:
        json.dump(
            {
                "tracked": stats.tracked,
                "recovered": stats.recovered,
                "sent": stats.sent,
                "rejected": stats.rejected,
                "dropped": dict(stats.dropped),
                "queued": stats.queued,
                "in_flight": stats.in_flight,
                "balanced": stats.balanced,
            },
            file,
        )


if __name__ == "__main__":
    main()
