"""OTLP/HTTP request bodies to :class:`~.records.LogRecord` lists: ``application/json`` and ``application/x-protobuf``.

:func:`decode_logs` returns the records it could read and the number it could not (an OTLP partial success: the
exporter must not retry those). A body that cannot be parsed at all raises :class:`BadRequestError` (an HTTP 400: the
exporter does not retry it either). :func:`check_request` does the same for metrics and traces, which are accepted
and answered but carry nothing the mapping uses (harness metrics would count usage twice).

The protobuf messages come from ``opentelemetry-proto`` (the ``otel`` extra), imported on first protobuf use.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from .records import LogRecord
from .values import MalformedValueError, any_value, attributes

__all__ = [
    "JSON",
    "PROTOBUF",
    "BadRequestError",
    "Decoded",
    "check_request",
    "decode_logs",
    "media_type",
    "protobuf_missing",
]

_orjson: ModuleType | None
try:  # the `fast` extra: several times quicker on large bodies
    import orjson as _orjson
except ImportError:  # pragma: no cover - the stdlib reads the same documents
    _orjson = None


def _loads(body: bytes) -> Any:
    return _orjson.loads(body) if _orjson is not None else json.loads(body)


JSON = "application/json"
PROTOBUF = "application/x-protobuf"


class BadRequestError(ValueError):
    """A body that is not an OTLP request in its declared encoding."""


class Decoded:
    """The records read from one request, and how many were rejected (with the first reason)."""

    __slots__ = ("error", "records", "rejected")

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.rejected = 0
        self.error = ""

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if not self.error:
            self.error = reason


def media_type(content_type: str) -> str:
    """``application/json`` from ``application/json; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


def protobuf_missing() -> str | None:
    """Why protobuf bodies cannot be read here (``opentelemetry-proto`` is not installed), or ``None`` if they can."""
    try:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest  # noqa: F401, PLC0415
    except ImportError:
        return (
            "application/x-protobuf needs opentelemetry-proto, which is not installed here "
            "(pip install 'mosaicstack-telemetry[otel]'); send application/json instead "
            "(OTEL_EXPORTER_OTLP_PROTOCOL=http/json)"
        )
    return None


def decode_logs(body: bytes, kind: str) -> Decoded:
    """The log records of an ``ExportLogsServiceRequest`` body in ``kind`` (:data:`JSON` or :data:`PROTOBUF`)."""
    return _json_logs(body) if kind == JSON else _protobuf_logs(body)


def check_request(body: bytes, kind: str, signal: str) -> None:
    """Parse a metrics or traces request (``signal``: ``"metrics"``/``"traces"``) or raise :class:`BadRequestError`."""
    if kind == JSON:
        document = _json(body)
        key = "resourceMetrics" if signal == "metrics" else "resourceSpans"
        if not isinstance(document.get(key, []), list):
            raise BadRequestError(f"{key} must be a list")
        return
    message: Any
    if signal == "metrics":
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: PLC0415

        message = metrics_service_pb2.ExportMetricsServiceRequest()
    else:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: PLC0415

        message = trace_service_pb2.ExportTraceServiceRequest()
    _parse(message, body)


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = _loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequestError(f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadRequestError("the body must be a JSON object")
    return document


def _list(parent: dict[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestError(f"{key} must be a list, got {type(value).__name__}")
    return value


def _nanos(record: dict[str, Any]) -> int:
    for key in ("timeUnixNano", "observedTimeUnixNano"):
        raw = record.get(key)
        if raw in (None, "", 0, "0"):
            continue
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise MalformedValueError(f"{key} must be an integer, got {raw!r}")
        try:
            return int(raw)
        except ValueError:
            raise MalformedValueError(f"{key} must be an integer, got {raw!r}") from None
    return 0


def _json_logs(body: bytes) -> Decoded:
    document = _json(body)
    decoded = Decoded()
    for resource_logs in _list(document, "resourceLogs"):
        if not isinstance(resource_logs, dict):
            raise BadRequestError("each resourceLogs entry must be an object")
        try:
            resource = attributes((resource_logs.get("resource") or {}).get("attributes") or [])
        except (MalformedValueError, AttributeError) as error:
            raise BadRequestError(f"resource: {error}") from None
        for scope_logs in _list(resource_logs, "scopeLogs"):
            if not isinstance(scope_logs, dict):
                raise BadRequestError("each scopeLogs entry must be an object")
            scope = scope_logs.get("scope") or {}
            scope_name = scope.get("name") if isinstance(scope, dict) else None
            scope_name = scope_name if isinstance(scope_name, str) else ""
            for record in _list(scope_logs, "logRecords"):
                try:
                    decoded.records.append(_json_record(record, scope_name, resource))
                except MalformedValueError as error:
                    decoded.reject(str(error))
    return decoded


def _json_record(record: Any, scope_name: str, resource: dict[str, Any]) -> LogRecord:
    if not isinstance(record, dict):
        raise MalformedValueError("a log record must be an object")
    body_value = any_value(record["body"], "body") if record.get("body") else None
    event_name = record.get("eventName")
    return LogRecord(
        time_unix_nano=_nanos(record),
        event_name=event_name if isinstance(event_name, str) and event_name else None,
        body=body_value if isinstance(body_value, str) else None,
        attributes=attributes(record.get("attributes") or []),
        scope_name=scope_name,
        resource=resource,
    )


def _parse(message: Any, body: bytes) -> None:
    from google.protobuf.message import DecodeError  # noqa: PLC0415

    try:
        message.ParseFromString(body)
    except DecodeError as error:
        raise BadRequestError(f"the body is not a protobuf {type(message).__name__}: {error}") from None


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    return getattr(value, kind)


def _pb_attributes(items: Any) -> dict[str, Any]:
    return {item.key: _pb_value(item.value) for item in items}


def _protobuf_logs(body: bytes) -> Decoded:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest  # noqa: PLC0415

    request = ExportLogsServiceRequest()
    _parse(request, body)
    decoded = Decoded()
    for resource_logs in request.resource_logs:
        resource = _pb_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope_name = scope_logs.scope.name
            for record in scope_logs.log_records:
                body_value = _pb_value(record.body)
                decoded.records.append(
                    LogRecord(
                        time_unix_nano=record.time_unix_nano or record.observed_time_unix_nano,
                        event_name=getattr(record, "event_name", "") or None,  # OTLP ≥1.5 (proto ≥1.30)
                        body=body_value if isinstance(body_value, str) else None,
                        attributes=_pb_attributes(record.attributes),
                        scope_name=scope_name,
                        resource=resource,
                    )
                )
    return decoded
