"""Harness tables: which OTLP log records a harness emits and where each number sits.

The prompt assembler (:mod:`.assembler`) is generic; a :class:`HarnessTable` tells it how to read one harness.
:data:`CLAUDE_CODE` is Claude Code's (documented events, docs/otel.md has the mapping table); another harness is
another table. A record belongs to a table when its event name carries the table's prefix, or when it is bare and
comes from one of the table's scopes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from ..enums import Harness, Provider
from .records import LogRecord

__all__ = ["CLAUDE_CODE", "HarnessTable", "Kind"]


class Kind(enum.Enum):
    """What a mapped record contributes to its prompt."""

    PROMPT = "prompt"  # starts a task
    REQUEST = "request"  # a model call: tokens, cost, model
    ERROR = "error"  # a failed model call: retries, outcome
    TOOL = "tool"  # a tool result: quality gates
    DECISION = "decision"  # a tool decision: a mapped record, nothing summed


@attrs.frozen(kw_only=True)
class HarnessTable:
    """How to read one harness's log records (every field names an attribute key unless said otherwise)."""

    harness: Harness
    provider: Provider
    #: event-name prefix (``claude_code.``) and the scopes whose records may carry bare names
    prefix: str
    scopes: frozenset[str]
    #: bare event name → what it contributes; every other event is ignored and counted
    events: Mapping[str, Kind]
    session: str
    prompt_id: str
    sequence: str
    model: str
    prompt_text: str
    redacted: str
    #: summed into the task's input tokens (the harness reports cache tokens beside ``input_tokens``)
    input_tokens: tuple[str, ...]
    output_tokens: str
    cost_usd: str
    cost_usd_micros: str
    cache_read_tokens: str
    cache_write_tokens: str
    attempt: str
    tool_name: str
    tool_success: str
    tool_parameters: str
    #: the tool whose results may be quality gates, and the keys of its command in the (JSON) parameters
    shell_tool: str
    command_keys: tuple[str, ...]

    def event_name(self, record: LogRecord) -> str | None:
        """The bare event name of ``record`` if it belongs to this harness (``eventName``, body, ``event.name``)."""
        for candidate in (record.event_name, record.body, record.attributes.get("event.name")):
            if not isinstance(candidate, str) or not candidate:
                continue
            if candidate.startswith(self.prefix):
                return candidate[len(self.prefix) :]
            if record.scope_name in self.scopes and "." not in candidate:
                return candidate
        return None


#: Claude Code (code.claude.com/docs/en/monitoring-usage, checked for versions up to 2.1.240).
CLAUDE_CODE = HarnessTable(
    harness=Harness.CLAUDE_CODE,
    provider=Provider.ANTHROPIC,
    prefix="claude_code.",
    scopes=frozenset({"com.anthropic.claude_code.events"}),
    events={
        "user_prompt": Kind.PROMPT,
        "api_request": Kind.REQUEST,
        "api_error": Kind.ERROR,
        "tool_result": Kind.TOOL,
        "tool_decision": Kind.DECISION,
    },
    session="session.id",
    prompt_id="prompt.id",
    sequence="event.sequence",
    model="model",
    prompt_text="prompt",
    redacted="<REDACTED>",
    input_tokens=("input_tokens", "cache_read_tokens", "cache_creation_tokens"),
    output_tokens="output_tokens",
    cost_usd="cost_usd",
    cost_usd_micros="cost_usd_micros",
    cache_read_tokens="cache_read_tokens",
    cache_write_tokens="cache_creation_tokens",
    attempt="attempt",
    tool_name="tool_name",
    tool_success="success",
    tool_parameters="tool_parameters",
    shell_tool="Bash",
    command_keys=("full_command", "bash_command"),
)
