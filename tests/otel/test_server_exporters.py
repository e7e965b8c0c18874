"""The OpenTelemetry SDK's own OTLP/HTTP log exporters (protobuf and JSON) sending Claude Code's events straight to
the reference server, configured as a harness is: ``OTEL_EXPORTER_OTLP_ENDPOINT=<server>/otlp`` and
``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer <mosaic key>``. Skipped without the ``otel`` dependency group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("opentelemetry.exporter.otlp.json.http")

from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as ProtoLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from mosaicstack_telemetry.enums import Harness, Outcome, QualityGate
from mosaicstack_telemetry.otel import CLAUDE_CODE
from mosaicstack_telemetry.otel.prompt import prompt_event_id
from mosaicstack_telemetry.server.runner import ServerThread
from mosaicstack_telemetry.server.storage import Storage

from .claude import PROMPT_1, PROMPT_2, SCOPE, SESSION, emit_session

EXPORTERS: dict[str, Callable[..., Any]] = {"protobuf": ProtoLogExporter, "json": JsonLogExporter}


def _export_session(exporter_class: Callable[..., Any], url: str, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claude Code's session through the SDK exporter, configured by the environment variables alone."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{url}/otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {key}")
    provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter_class()))  # one request per record
    emit_session(provider.get_logger(SCOPE), strings=True)
    provider.shutdown()


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_sdk_exporter_to_the_reference_server(encoding: str, storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    other = None
    with ServerThread(storage=storage) as server:
        other = server.create_key()  # a second instance that sends nothing
        _export_session(EXPORTERS[encoding], server.url, server.api_key, monkeypatch)
        assert 1 == storage.count_events(server.instance_id)  # the second prompt completed the first
        stats = server.app.state.otlp.snapshot(server.instance_id)
    # stopped: the shutdown completed and stored the second prompt
    assert (7, 6, 1) == (stats["records_received"], stats["records_mapped"], stats["records_ignored"])
    assert (2, 0) == (storage.count_events(server.instance_id), storage.count_events(other.instance_id))
    first = storage.fetch_event(server.instance_id, prompt_event_id(CLAUDE_CODE, SESSION, PROMPT_1))
    second = storage.fetch_event(server.instance_id, prompt_event_id(CLAUDE_CODE, SESSION, PROMPT_2))
    assert first is not None
    assert second is not None
    assert (server.instance_id, Harness.CLAUDE_CODE, 12 + 30000 + 1000, 640, 210_000) == (
        first.instance_id,
        first.harness,
        first.actual_input_tokens,
        first.actual_output_tokens,
        first.actual_cost_usd_micros,
    )
    assert (Outcome.FAILURE, 2, [QualityGate.TYPECHECK]) == (
        first.outcome,
        first.retry_count,
        first.quality_gates_failed,
    )
    assert (server.instance_id, "claude-haiku-4-5", Outcome.SUCCESS) == (
        second.instance_id,
        second.model,
        second.outcome,
    )


def test_sdk_exporter_with_a_wrong_key_stores_nothing(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    with ServerThread(storage=storage) as server:
        _export_session(ProtoLogExporter, server.url, "ab" * 32, monkeypatch)
        refused = dict(server.app.state.otlp.stats.refused)
    assert {403: 7} == refused  # every record, one request each; 403 is not retried
    assert 0 == storage.count_events()
