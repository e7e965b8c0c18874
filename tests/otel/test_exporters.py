"""The OpenTelemetry SDK's own OTLP/HTTP exporters (protobuf and JSON, logs and traces) sending to the bridge over
loopback, as Claude Code's exporter does. Skipped where the ``otel`` dependency group is not installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("opentelemetry.exporter.otlp.json.http")

from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as ProtoLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as ProtoSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mosaicstack_telemetry.enums import Outcome, QualityGate

from .claude import SCOPE, emit_session
from .recorder import recorded_app
from .serving import serving

#: encoding → (exporter, its no-compression value, its gzip value): each package has its own Compression enum
EXPORTERS: dict[str, tuple[Callable[..., Any], Any, Any]] = {
    "protobuf": (ProtoLogExporter, Compression.NoCompression, Compression.Gzip),
    "json": (JsonLogExporter, JsonCompression.NONE, JsonCompression.GZIP),
}


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("strings", [False, True], ids=["numbers", "strings"])
def test_sdk_log_exporter_to_bridge(encoding: str, compressed: bool, strings: bool) -> None:
    app, recorder = recorded_app()
    with serving(app) as url:
        exporter_class, plain, gzip = EXPORTERS[encoding]
        exporter = exporter_class(endpoint=f"{url}/v1/logs", compression=gzip if compressed else plain)
        provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code"}))
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_export_batch_size=3))
        emit_session(provider.get_logger(SCOPE), strings)
        assert provider.force_flush(10_000)
        provider.shutdown()
    # uvicorn stopped: the lifespan shutdown completed the open prompt
    assert 7 == app.stats.records_received
    assert (6, 1, 0) == (app.stats.records_mapped, app.stats.records_ignored, app.stats.rejected)
    first, second = sorted(recorder.events, key=lambda event: event.timestamp)
    assert (12 + 30000 + 1000, 640, 210_000) == (
        first.actual_input_tokens,
        first.actual_output_tokens,
        first.actual_cost_usd_micros,
    )
    assert (Outcome.FAILURE, 2, [QualityGate.TYPECHECK]) == (
        first.outcome,
        first.retry_count,
        first.quality_gates_failed,
    )
    assert 3000 == first.task_duration_ms
    assert ("claude-haiku-4-5", 0, Outcome.SUCCESS, 1000) == (
        second.model,
        second.actual_cost_usd_micros,
        second.outcome,
        second.task_duration_ms,
    )
    assert {"next_prompt": 1, "shutdown": 1} == dict(app.stats.prompts_completed)


@pytest.mark.parametrize("exporter_class", [ProtoSpanExporter, JsonSpanExporter], ids=["protobuf", "json"])
def test_sdk_span_exporter_is_answered(exporter_class: Callable[..., Any]) -> None:
    app, recorder = recorded_app()
    with serving(app) as url:
        provider = TracerProvider(resource=Resource.create({"service.name": "claude-code"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter_class(endpoint=f"{url}/v1/traces")))
        with provider.get_tracer("com.anthropic.claude_code").start_as_current_span("claude_code.interaction"):
            pass
        provider.shutdown()
    assert {"traces": 1} == dict(app.stats.requests)
    assert {} == dict(app.stats.refused)
    assert [] == recorder.events
