"""Gemini CLI and Codex CLI through their tables: the attributes their docs give, in their encodings (Gemini's
``prompt_id``, thoughts beside the output; Codex's turn from one ``user_prompt`` to the next, tokens on the
``response.completed`` ``sse_event``, counts as strings). Neither carries a cost: the ``llm`` pricer prices them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.enums import Harness, Outcome, Provider, QualityGate
from mosaicstack_telemetry.llm import Pricer
from mosaicstack_telemetry.llm.usage import Usage
from mosaicstack_telemetry.otel import PromptAssembler
from mosaicstack_telemetry.otel.decode import JSON, decode_logs

from .claude import BASE_NS, value

INSTANCE = "12345678-1234-4234-8234-123456789abc"


def log(name: str, at_ms: int, body: str, **attributes: Any) -> dict[str, Any]:
    """A record whose ``event.name`` holds the prefixed name and whose body is log text (as Gemini and Codex do)."""
    items = [{"key": "event.name", "value": {"stringValue": name}}]
    items += [{"key": key.replace("__", "."), "value": value(raw)} for key, raw in attributes.items()]
    return {"timeUnixNano": str(BASE_NS + at_ms * 1_000_000), "body": {"stringValue": body}, "attributes": items}


def run(records: list[dict[str, Any]]) -> tuple[list[TaskCompletionEvent], PromptAssembler]:
    events: list[TaskCompletionEvent] = []
    assembler = PromptAssembler(events.append, instance_id=INSTANCE)
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"scope": {"name": "x"}, "logRecords": records}]}]})
    assembler.add(decode_logs(body.encode(), JSON).records, now=0.0)
    assembler.complete_all()
    return events, assembler


def test_gemini_cli_prompt() -> None:
    common = {"session__id": "g-session", "installation__id": "inst", "prompt_id": "g-1"}
    events, assembler = run(
        [
            log("gemini_cli.user_prompt", 0, "User prompt.", prompt_length=9, prompt="fix it please", **common),
            log(
                "gemini_cli.api_response",
                2000,
                "API response from gemini-2.5-pro.",
                model="gemini-2.5-pro",
                duration_ms=1900,
                input_token_count=5000,
                output_token_count=200,
                cached_content_token_count=4000,
                thoughts_token_count=300,
                **common,
            ),
            log(
                "gemini_cli.tool_call",
                3000,
                "Tool call: run_shell_command.",
                function_name="run_shell_command",
                function_args=json.dumps({"command": "npm test"}),
                success=False,
                **common,
            ),
            log("gemini_cli.api_error", 4000, "API error.", model_name="gemini-2.5-pro", status_code=429, **common),
            log("gemini_cli.config", 0, "Config.", **common),
        ]
    )
    [event] = events
    expected = Pricer().price(
        "gemini-2.5-pro", Usage(input_tokens=5000, output_tokens=500, cache_read_tokens=4000), provider="google"
    )
    assert (5000, 500, expected.micros) == (
        event.actual_input_tokens,
        event.actual_output_tokens,
        event.actual_cost_usd_micros,
    )
    assert (Harness.CUSTOM, Provider.GOOGLE, "gemini-2.5-pro") == (event.harness, event.provider, event.model)
    assert ([QualityGate.TEST], Outcome.FAILURE, 4000) == (
        event.quality_gates_failed,
        event.outcome,
        event.task_duration_ms,
    )
    assert {"gemini_cli.config": 1} == dict(assembler.stats.ignored_events)
    assert "fix it please" not in repr(vars(assembler)) + repr(event.model_dump())


def test_codex_cli_turns() -> None:
    common = {"conversation__id": "c-1", "model": "gpt-5-codex", "app__version": "0.40.0"}

    def tokens(at_ms: int, output: str) -> dict[str, Any]:
        return log(
            "codex.sse_event",
            at_ms,
            "sse",
            event__kind="response.completed",
            input_token_count="3000",
            output_token_count=output,
            cached_token_count="2000",
            reasoning_token_count="100",
            **common,
        )

    events, assembler = run(
        [
            log("codex.user_prompt", 0, "prompt", prompt_length=3, **common),
            log("codex.sse_event", 500, "sse", event__kind="response.output_text.delta", **common),
            tokens(1000, "400"),
            log(
                "codex.tool_result",
                1500,
                "tool",
                tool_name="shell",
                arguments=json.dumps({"command": ["bash", "-lc", "cargo clippy"]}),
                output="secret output",
                success="true",
                **common,
            ),
            log("codex.user_prompt", 5000, "prompt", prompt_length=3, **common),
            tokens(6000, "50"),
        ]
    )
    first, second = events
    assert (3000, 400, [QualityGate.LINT], 1500) == (
        first.actual_input_tokens,
        first.actual_output_tokens,
        first.quality_gates_run,
        first.task_duration_ms,
    )
    assert (3000, 50, Provider.OPENAI, Harness.CUSTOM) == (
        second.actual_input_tokens,
        second.actual_output_tokens,
        second.provider,
        second.harness,
    )
    assert {"codex.sse_event": 1} == dict(assembler.stats.ignored_events)  # the delta
    assert "secret output" not in repr(vars(assembler))


@pytest.mark.parametrize(
    ("tool", "arguments", "gate"),
    [
        ("shell", {"command": ["bash", "-lc", "pytest -q"], "workdir": "/w"}, QualityGate.TEST),
        ("shell_command", {"command": "mypy src", "workdir": "/w"}, QualityGate.TYPECHECK),
        ("exec_command", {"cmd": "ruff check .", "yield_time_ms": 10000}, QualityGate.LINT),
        ("apply_patch", {"command": "pytest -q"}, None),  # not a shell tool: no gate
    ],
)
def test_codex_cli_shell_tools_are_quality_gates(
    tool: str, arguments: dict[str, Any], gate: QualityGate | None
) -> None:
    """codex-rs's three shell tools (``shell``'s argv, ``shell_command``'s string, unified exec's ``cmd``)."""
    common = {"conversation__id": "c-2", "model": "gpt-5-codex"}
    events, _ = run(
        [
            log("codex.user_prompt", 0, "prompt", prompt_length=3, **common),
            log(
                "codex.sse_event",
                500,
                "sse",
                event__kind="response.completed",
                input_token_count="10",
                output_token_count="5",
                **common,
            ),
            log(
                "codex.tool_result",
                1000,
                "tool",
                tool_name=tool,
                call_id="call_1",
                arguments=json.dumps(arguments),
                success="false",
                **common,
            ),
        ]
    )
    (event,) = events
    expected = [] if gate is None else [gate]
    assert (expected, expected) == (event.quality_gates_run, event.quality_gates_failed)
