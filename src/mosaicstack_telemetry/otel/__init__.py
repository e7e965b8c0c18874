"""Zero-code telemetry from OpenTelemetry: an OTLP/HTTP bridge for AI coding harnesses (Claude Code first).

::

    from mosaicstack_telemetry.otel import bridge_app

    app = bridge_app(telemetry)  # an ASGI app: point the harness's OTLP exporter at it

Every user prompt becomes one :class:`~mosaicstack_telemetry.TaskCompletionEvent` (docs/otel.md has the mapping and
its guarantees). Protobuf bodies need the ``otel`` extra (``opentelemetry-proto``); JSON bodies need nothing more.
Prompt text, tool parameters and error text are never stored or forwarded.
"""

from __future__ import annotations

from .app import BridgeApp, bridge_app
from .assembler import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_OPEN_PROMPTS, PromptAssembler
from .gates import PATTERNS, gates_of
from .harness import CLAUDE_CODE, CODEX_CLI, GEMINI_CLI, HARNESSES, HarnessTable, Kind
from .records import LogRecord
from .spans import GenAISpanProcessor
from .stats import BridgeStats

__all__ = [
    "CLAUDE_CODE",
    "CODEX_CLI",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_OPEN_PROMPTS",
    "GEMINI_CLI",
    "HARNESSES",
    "PATTERNS",
    "BridgeApp",
    "BridgeStats",
    "GenAISpanProcessor",
    "HarnessTable",
    "Kind",
    "LogRecord",
    "PromptAssembler",
    "bridge_app",
    "gates_of",
]
