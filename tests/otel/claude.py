"""Claude Code log records shaped as its monitoring docs describe them, in OTLP/HTTP JSON.

Each record has the body ``claude_code.<name>``, the attribute ``event.name`` = ``<name>``, the attributes every
Claude Code event carries (``session.id``, ``user.id``, ``organization.id``, ``user.email``, ``terminal.type``,
``event.timestamp``, ``event.sequence``, ``prompt.id``) and the event's own, encoded as the JS exporter encodes them
(integers as ``intValue`` numbers unless told otherwise, ``cost_usd`` a ``doubleValue``, ``success`` a string).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

SCOPE = "com.anthropic.claude_code.events"
BASE_NS = 1_763_629_200_000_000_000  # 2025-11-20T09:00:00Z
SESSION = "4f9c2a8e-1d3b-4c5a-9e7f-0a1b2c3d4e5f"
PROMPT_1 = "0b6d0c61-8b0e-4d4b-a5a8-3f1a7c2e9d10"
PROMPT_2 = "7e3f9a12-4c5d-4e6f-8a9b-0c1d2e3f4a5b"


def value(raw: Any, *, as_string: bool = False) -> dict[str, Any]:
    """An OTLP JSON AnyValue."""
    if isinstance(raw, bool):
        return {"stringValue": "true" if raw else "false"} if as_string else {"boolValue": raw}
    if isinstance(raw, int):
        return {"stringValue": str(raw)} if as_string else {"intValue": raw}
    if isinstance(raw, float):
        return {"doubleValue": raw}
    return {"stringValue": str(raw)}


def record(
    name: str,
    at_ms: int,
    sequence: int | None,
    *,
    prompt_id: str | None = PROMPT_1,
    session: str = SESSION,
    strings: bool = False,
    **attributes: Any,
) -> dict[str, Any]:
    """One Claude Code log record, ``at_ms`` milliseconds after :data:`BASE_NS`."""
    time_ns = BASE_NS + at_ms * 1_000_000
    common: dict[str, Any] = {
        "event.name": name,
        "event.timestamp": datetime.fromtimestamp(time_ns / 1e9, timezone.utc).isoformat().replace("+00:00", "Z"),
        "session.id": session,
        "user.id": "a1b2c3",
        "organization.id": "org-1",
        "user.email": "dev@example.com",
        "terminal.type": "vscode",
    }
    if sequence is not None:
        common["event.sequence"] = sequence
    if prompt_id is not None:
        common["prompt.id"] = prompt_id
    items = [{"key": key, "value": value(raw)} for key, raw in common.items()]
    items += [
        {"key": key.replace("__", "."), "value": value(raw, as_string=strings)} for key, raw in attributes.items()
    ]
    return {
        "timeUnixNano": str(time_ns),
        "observedTimeUnixNano": str(time_ns + 1000),
        "severityNumber": 9,
        "body": {"stringValue": f"claude_code.{name}"},
        "attributes": items,
    }


def user_prompt(at_ms: int, sequence: int, text: str = "<REDACTED>", **kw: Any) -> dict[str, Any]:
    return record("user_prompt", at_ms, sequence, prompt_length=len(text), prompt=text, **kw)


def api_request(
    at_ms: int,
    sequence: int,
    *,
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: int = 3,
    output_tokens: int = 500,
    cache_read: int = 18190,
    cache_creation: int = 2436,
    cost: float | None = 0.0123,
    **kw: Any,
) -> dict[str, Any]:
    extra: dict[str, Any] = {} if cost is None else {"cost_usd": cost}
    return record(
        "api_request",
        at_ms,
        sequence,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
        duration_ms=4200,
        request_id="req_011CV",
        query_source="main",
        **extra,
        **kw,
    )


def api_error(
    at_ms: int, sequence: int, *, attempt: int = 1, model: str = "claude-sonnet-4-5-20250929", **kw: Any
) -> dict[str, Any]:
    return record(
        "api_error",
        at_ms,
        sequence,
        model=model,
        error="Overloaded: secret details",
        status_code=529,
        duration_ms=1000,
        attempt=attempt,
        **kw,
    )


def bash_result(at_ms: int, sequence: int, command: str | None, *, success: bool = True, **kw: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if command is not None:
        extra["tool_parameters"] = json.dumps({"bash_command": command.split()[0], "full_command": command})
    return record(
        "tool_result",
        at_ms,
        sequence,
        tool_name="Bash",
        tool_use_id="toolu_01",
        success="true" if success else "false",
        duration_ms=800,
        **extra,
        **kw,
    )


def request_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An ExportLogsServiceRequest as Claude Code sends it."""
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "claude-code"}},
                        {"key": "service.version", "value": {"stringValue": "2.1.240"}},
                    ]
                },
                "scopeLogs": [{"scope": {"name": SCOPE, "version": "2.1.240"}, "logRecords": records}],
            }
        ]
    }


def encode(records: list[dict[str, Any]]) -> bytes:
    return json.dumps(request_body(records)).encode()


def to_protobuf(records: list[dict[str, Any]]) -> bytes:
    """The same request in protobuf (through protobuf's own JSON parser: the OTLP JSON mapping)."""
    from google.protobuf.json_format import Parse
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    message = Parse(json.dumps(request_body(records)), ExportLogsServiceRequest())
    serialized: bytes = message.SerializeToString()
    return serialized


def emit_session(logger: Any, strings: bool = False) -> None:
    """Two prompts of one Claude Code session, emitted on an OpenTelemetry SDK ``logger`` as Claude Code emits its
    events (numbers as strings, like versions before 2.1.122, with ``strings``): 7 records, one ignored
    (``assistant_response``). The first prompt costs 0.21 USD, fails mypy (typecheck) and retries twice; the
    second is open at the end."""

    def number(value: int) -> int | str:
        return str(value) if strings else value

    sequence = 0

    def emit(name: str, at_ms: int, prompt_id: str, **attributes: Any) -> None:
        nonlocal sequence
        sequence += 1
        logger.emit(
            timestamp=BASE_NS + at_ms * 1_000_000,
            body=f"claude_code.{name}",
            attributes={
                "event.name": name,
                "session.id": SESSION,
                "prompt.id": prompt_id,
                "event.sequence": sequence,
                "user.email": "dev@example.com",
                **attributes,
            },
        )

    emit("user_prompt", 0, PROMPT_1, prompt_length=20, prompt="<REDACTED>")
    emit(
        "api_request",
        1500,
        PROMPT_1,
        model="claude-opus-4-1-20250805",
        input_tokens=number(12),
        output_tokens=number(640),
        cache_read_tokens=number(30000),
        cache_creation_tokens=number(1000),
        cost_usd=0.21,
    )
    emit(
        "tool_result", 2500, PROMPT_1, tool_name="Bash", success="false", tool_parameters='{"full_command": "mypy src"}'
    )
    emit("api_error", 3000, PROMPT_1, model="claude-opus-4-1-20250805", attempt=number(3), error="overloaded")
    emit("user_prompt", 10_000, PROMPT_2, prompt_length=5, prompt="<REDACTED>")
    emit(
        "api_request",
        11_000,
        PROMPT_2,
        model="claude-haiku-4-5",
        input_tokens=number(100),
        output_tokens=number(7),
        cost_usd=0,
    )
    emit("assistant_response", 11_500, PROMPT_2, response_length=40)
