"""Harness tables: which OTLP log records a harness emits and where each number sits.

The prompt assembler (:mod:`.assembler`) is generic; a :class:`HarnessTable` tells it how to read one harness.
:data:`CLAUDE_CODE` is Claude Code's (documented events, docs/otel.md has the mapping table); :data:`GEMINI_CLI` and
:data:`CODEX_CLI` are the same idea for the attributes their docs give. An empty key means "the harness sends no
such attribute". A record belongs to a table when its event name carries the table's prefix, or when it is bare and
comes from one of the table's scopes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from ..enums import Harness, Provider
from .records import LogRecord

__all__ = ["CLAUDE_CODE", "CODEX_CLI", "GEMINI_CLI", "HARNESSES", "HarnessTable", "Kind"]


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
    #: summed into the task's output tokens (reasoning included: Gemini reports its thoughts beside the output)
    output_tokens: tuple[str, ...]
    cost_usd: str
    cost_usd_micros: str
    cache_read_tokens: str
    cache_write_tokens: str
    attempt: str
    #: the model of an error record (Gemini names it apart)
    error_model: str
    tool_name: str
    tool_success: str
    tool_parameters: str
    #: the tools whose results may be quality gates, and the keys of their command in the (JSON) parameters (a
    #: string, or an argv list joined with spaces); the first key present wins
    shell_tools: frozenset[str]
    command_keys: tuple[str, ...]
    #: a request record counts only when this attribute has this value (Codex: the ``response.completed`` event)
    request_when: tuple[str, str] | None = None

    def kind_of(self, name: str, record: LogRecord) -> Kind | None:
        """What the record named ``name`` contributes, or ``None`` (ignored)."""
        kind = self.events.get(name)
        if kind is Kind.REQUEST and self.request_when is not None:
            key, wanted = self.request_when
            if record.attributes.get(key) != wanted:
                return None
        return kind

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
    output_tokens=("output_tokens",),
    cost_usd="cost_usd",
    cost_usd_micros="cost_usd_micros",
    cache_read_tokens="cache_read_tokens",
    cache_write_tokens="cache_creation_tokens",
    attempt="attempt",
    error_model="model",
    tool_name="tool_name",
    tool_success="success",
    tool_parameters="tool_parameters",
    shell_tools=frozenset({"Bash"}),
    command_keys=("full_command", "bash_command"),
)

#: Gemini CLI (google-gemini/gemini-cli docs/cli/telemetry.md, checked for v0.56). No cost: priced by the ``llm``
#: pricer. Its counts: input includes cached tokens; output excludes thoughts (added here). No event sequence.
GEMINI_CLI = HarnessTable(
    harness=Harness.CUSTOM,
    provider=Provider.GOOGLE,
    prefix="gemini_cli.",
    scopes=frozenset(),
    events={"user_prompt": Kind.PROMPT, "api_response": Kind.REQUEST, "api_error": Kind.ERROR, "tool_call": Kind.TOOL},
    session="session.id",
    prompt_id="prompt_id",
    sequence="",
    model="model",
    prompt_text="prompt",
    redacted="",
    input_tokens=("input_token_count",),
    output_tokens=("output_token_count", "thoughts_token_count"),
    cost_usd="",
    cost_usd_micros="",
    cache_read_tokens="cached_content_token_count",
    cache_write_tokens="",
    attempt="",
    error_model="model_name",
    tool_name="function_name",
    tool_success="success",
    tool_parameters="function_args",
    shell_tools=frozenset({"run_shell_command"}),
    command_keys=("command",),
)

#: Codex CLI (openai/codex docs/config.md#otel and codex-rs/otel session_telemetry.rs). No cost (priced by the
#: ``llm`` pricer) and no turn id: a turn runs from one ``user_prompt`` to the next of its conversation. Tokens ride
#: on the ``sse_event`` whose ``event.kind`` is ``response.completed``; input includes cached tokens, output includes
#: reasoning. The shell tools and their command arguments are read from codex-rs (the docs do not name them):
#: ``shell`` (``command``, an argv list), ``shell_command`` (``command``, a string) and the unified exec tool
#: ``exec_command`` (``cmd``, a string); ``codex.tool_result`` carries the call's raw JSON ``arguments``.
CODEX_CLI = HarnessTable(
    harness=Harness.CUSTOM,
    provider=Provider.OPENAI,
    prefix="codex.",
    scopes=frozenset(),
    events={"user_prompt": Kind.PROMPT, "sse_event": Kind.REQUEST, "tool_result": Kind.TOOL},
    session="conversation.id",
    prompt_id="",
    sequence="",
    model="model",
    prompt_text="prompt",
    redacted="",
    input_tokens=("input_token_count",),
    output_tokens=("output_token_count",),
    cost_usd="",
    cost_usd_micros="",
    cache_read_tokens="cached_token_count",
    cache_write_tokens="",
    attempt="",
    error_model="model",
    tool_name="tool_name",
    tool_success="success",
    tool_parameters="arguments",
    shell_tools=frozenset({"shell", "shell_command", "exec_command"}),
    command_keys=("command", "cmd"),
    request_when=("event.kind", "response.completed"),
)

#: Every harness the bridge understands, tried in this order.
HARNESSES = (CLAUDE_CODE, GEMINI_CLI, CODEX_CLI)
