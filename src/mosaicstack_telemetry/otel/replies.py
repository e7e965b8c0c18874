"""OTLP/HTTP replies in the request's encoding: success, partial success, and errors.

Success is ``{}`` or an empty protobuf ``Export*ServiceResponse``; a partial success names how many records were
rejected (the exporter does not retry those) and why. Errors carry a short JSON (or plain text) message; OTLP
exporters retry 429/502/503/504 and drop on other 4xx.
"""

from __future__ import annotations

import json

from .decode import JSON

__all__ = ["error_body", "export_reply"]

_REJECTED_FIELD = {"logs": "rejectedLogRecords", "metrics": "rejectedDataPoints", "traces": "rejectedSpans"}


def export_reply(kind: str, signal: str, rejected: int = 0, message: str = "") -> tuple[bytes, str]:
    """The body and content type answering an export of ``signal`` (``logs``/``metrics``/``traces``)."""
    if kind == JSON:
        document: dict[str, object] = {}
        if rejected:
            document["partialSuccess"] = {_REJECTED_FIELD[signal]: str(rejected), "errorMessage": message}
        return json.dumps(document).encode(), JSON
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse  # noqa: PLC0415

        response = ExportLogsServiceResponse()
        if rejected:
            response.partial_success.rejected_log_records = rejected
            response.partial_success.error_message = message
        return response.SerializeToString(), "application/x-protobuf"
    return b"", "application/x-protobuf"  # an empty Export{Metrics,Trace}ServiceResponse is zero bytes


def error_body(message: str) -> bytes:
    """A JSON error body (``{"message": ...}``) for any status."""
    return json.dumps({"message": message}).encode()
