"""A stand-in for the forwarding client in ASGI tests: it keeps the events the bridge tracks, to read them back."""

from __future__ import annotations

from typing import Any, cast

import attrs

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig
from mosaicstack_telemetry.otel import BridgeApp, bridge_app

INSTANCE = "12345678-1234-4234-8234-123456789abc"


@attrs.define
class _Stats:
    sent: int = 0


@attrs.define
class Recorder:
    config: TelemetryConfig = attrs.field(factory=lambda: TelemetryConfig(instance_id=INSTANCE))
    events: list[TaskCompletionEvent] = attrs.field(factory=list)
    stats: _Stats = attrs.field(factory=_Stats)

    def track(self, event: TaskCompletionEvent) -> None:
        self.events.append(event)


def recorded_app(**options: Any) -> tuple[BridgeApp, Recorder]:
    recorder = Recorder()
    return bridge_app(cast(TelemetryClient, recorder), **options), recorder
