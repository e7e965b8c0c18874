"""The Claude Code mapping, record by record: documented-shape records in, the task event's fields out."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.enums import Harness, Outcome, Provider, QualityGate, TaskType
from mosaicstack_telemetry.otel import PromptAssembler
from mosaicstack_telemetry.otel.decode import JSON, decode_logs

from .claude import PROMPT_2, api_error, api_request, bash_result, encode, record, user_prompt

INSTANCE = "12345678-1234-4234-8234-123456789abc"


def assemble(records: list[dict[str, Any]], **options: Any) -> tuple[list[TaskCompletionEvent], PromptAssembler]:
    events: list[TaskCompletionEvent] = []
    assembler = PromptAssembler(events.append, instance_id=INSTANCE, **options)
    assembler.add(decode_logs(encode(records), JSON).records, now=0.0)
    assembler.complete_all()
    return events, assembler


def test_one_event_per_prompt_with_tokens_cost_duration_model() -> None:
    """Cache tokens sit beside input_tokens and are summed in; cost_usd is summed exactly and rounded once."""
    events, assembler = assemble(
        [
            user_prompt(0, 1),
            api_request(1000, 2, cost=0.0123),
            api_request(5000, 3, input_tokens=10, output_tokens=800, cache_read=100, cache_creation=0, cost=0.0000015),
            record("assistant_response", 6000, 4, response_length=120),
        ]
    )
    assert 1 == len(events)
    event = events[0]
    assert 3 + 18190 + 2436 + 10 + 100 == event.actual_input_tokens
    assert 500 + 800 == event.actual_output_tokens
    assert 12302 == event.actual_cost_usd_micros  # 0.0123015 USD → 12301.5 µ$ → half-up once
    assert 5000 == event.task_duration_ms  # the last mapped record; assistant_response adds nothing
    assert "claude-sonnet-4-5-20250929" == event.model
    assert (Provider.ANTHROPIC, Harness.CLAUDE_CODE) == (event.provider, event.harness)
    assert TaskType.UNKNOWN == event.task_type
    assert Outcome.SUCCESS == event.outcome
    assert (0, True, []) == (event.retry_count, event.quality_gate_passed, event.quality_gates_run)
    assert UUID(INSTANCE) == event.instance_id
    assert {"assistant_response": 1} == {
        k.removeprefix("claude_code."): v for k, v in assembler.stats.ignored_events.items()
    }


def test_numbers_as_strings_and_intvalue_strings_read_the_same() -> None:
    as_numbers, _ = assemble([user_prompt(0, 1), api_request(100, 2)])
    as_strings, _ = assemble([user_prompt(0, 1), api_request(100, 2, strings=True)])
    as_intvalue_strings = [user_prompt(0, 1), api_request(100, 2)]
    for item in as_intvalue_strings[1]["attributes"]:
        if "intValue" in item["value"]:
            item["value"]["intValue"] = str(item["value"]["intValue"])
    from_intvalue_strings, _ = assemble(as_intvalue_strings)
    fields = [(e.actual_input_tokens, e.actual_output_tokens, e.actual_cost_usd_micros) for e in as_numbers]
    assert fields == [(e.actual_input_tokens, e.actual_output_tokens, e.actual_cost_usd_micros) for e in as_strings]
    assert fields == [
        (e.actual_input_tokens, e.actual_output_tokens, e.actual_cost_usd_micros) for e in from_intvalue_strings
    ]
    assert (20629, 500, 12300) == fields[0]


def test_main_model_is_the_one_with_most_output_tokens() -> None:
    events, _ = assemble(
        [
            user_prompt(0, 1),
            api_request(10, 2, model="claude-haiku-4-5", output_tokens=50),
            api_request(20, 3, model="claude-opus-4-1", output_tokens=400),
            api_request(30, 4, model="claude-haiku-4-5", output_tokens=300),
        ]
    )
    assert "claude-opus-4-1" == events[0].model  # opus 400 output tokens, haiku 350 over two calls


def test_cost_micros_used_only_without_cost_usd_and_pricer_only_without_either() -> None:
    events, _ = assemble(
        [
            user_prompt(0, 1),
            api_request(10, 2, cost=0.5, cost_usd_micros=999),
            api_request(20, 3, cost=None, cost_usd_micros=2500),
        ]
    )
    assert 500_000 + 2500 == events[0].actual_cost_usd_micros
    priced, _ = assemble(
        [
            user_prompt(0, 1),
            api_request(10, 2, cost=None, input_tokens=1_000_000, output_tokens=0, cache_read=0, cache_creation=0),
        ]
    )
    assert priced[0].actual_cost_usd_micros > 0  # Sonnet 4.5 input is a few dollars per million tokens


def test_error_without_later_request_is_a_failure_with_its_retries() -> None:
    events, _ = assemble([user_prompt(0, 1), api_error(100, 2, attempt=11)])
    assert Outcome.FAILURE == events[0].outcome
    assert 10 == events[0].retry_count
    assert "claude-sonnet-4-5-20250929" == events[0].model  # no request: the first error's model


def test_recovered_error_counts_one_retry_and_success() -> None:
    events, _ = assemble([user_prompt(0, 1), api_error(100, 2, attempt=3), api_request(200, 3)])
    assert Outcome.SUCCESS == events[0].outcome
    assert 2 + 1 == events[0].retry_count


def test_retries_are_capped_at_twenty() -> None:
    events, _ = assemble([user_prompt(0, 1), api_error(100, 2, attempt=15), api_error(150, 3, attempt=15)])
    assert 20 == events[0].retry_count


def test_quality_gates_last_run_decides() -> None:
    events, _ = assemble(
        [
            user_prompt(0, 1),
            api_request(10, 2),
            bash_result(20, 3, "cd app && .venv/bin/pytest -q", success=False),
            bash_result(30, 4, "ruff check . && mypy src", success=False),
            bash_result(40, 5, "uv run pytest -q", success=True),
            bash_result(50, 6, "ls -la", success=False),  # not a gate
            bash_result(60, 7, None, success=False),  # no command exported: never a gate
        ]
    )
    event = events[0]
    assert [QualityGate.LINT, QualityGate.TEST, QualityGate.TYPECHECK] == sorted(event.quality_gates_run, key=str)
    assert {QualityGate.LINT, QualityGate.TYPECHECK} == set(event.quality_gates_failed)
    assert not event.quality_gate_passed
    assert Outcome.PARTIAL == event.outcome


def test_records_split_out_of_order_and_before_their_prompt() -> None:
    events: list[TaskCompletionEvent] = []
    assembler = PromptAssembler(events.append, instance_id=INSTANCE)
    assembler.add(decode_logs(encode([api_request(3000, 3)]), JSON).records, now=0.0)
    assembler.add(decode_logs(encode([api_request(1000, 2), user_prompt(0, 1)]), JSON).records, now=1.0)
    assert [] == events
    assembler.complete_all()
    assert 1 == len(events)
    assert 3000 == events[0].task_duration_ms
    assert 1000 == events[0].actual_output_tokens


def test_exporter_retry_counts_once() -> None:
    batch = [user_prompt(0, 1), api_request(100, 2), api_request(200, 3)]
    events: list[TaskCompletionEvent] = []
    assembler = PromptAssembler(events.append, instance_id=INSTANCE)
    for _ in range(3):
        assembler.add(decode_logs(encode(batch), JSON).records, now=0.0)
    assembler.complete_all()
    assert 1000 == events[0].actual_output_tokens
    assert 6 == assembler.stats.duplicates
    assert 3 == assembler.stats.records_mapped


def test_resumed_session_restarting_its_sequence_is_not_a_duplicate() -> None:
    """Identity includes the time: sequence 2 at another time is another record."""
    events, assembler = assemble([user_prompt(0, 1), api_request(100, 2), api_request(9000, 2)])
    assert 0 == assembler.stats.duplicates
    assert 1000 == events[0].actual_output_tokens


def test_next_user_prompt_completes_the_previous_one() -> None:
    events: list[TaskCompletionEvent] = []
    assembler = PromptAssembler(events.append, instance_id=INSTANCE)
    first = [user_prompt(0, 1), api_request(100, 2)]
    second = [user_prompt(5000, 3, prompt_id=PROMPT_2), api_request(5100, 4, prompt_id=PROMPT_2)]
    assembler.add(decode_logs(encode(first + second), JSON).records, now=0.0)
    assert 1 == len(events)
    assert 100 == events[0].task_duration_ms
    late = [api_request(200, 5)]
    assembler.add(decode_logs(encode(late), JSON).records, now=1.0)
    assert 1 == assembler.stats.late
    assembler.complete_all()
    assert 2 == len(events)
    assert {"next_prompt": 1, "shutdown": 1} == dict(assembler.stats.prompts_completed)
    assert events[0].event_id != events[1].event_id


def test_records_without_prompt_id_join_the_latest_prompt_at_or_before_them() -> None:
    events, assembler = assemble(
        [
            user_prompt(0, 1),
            user_prompt(5000, 3, prompt_id=PROMPT_2),
            api_request(100, 2, prompt_id=None, output_tokens=7),
            api_request(6000, 4, prompt_id=None, output_tokens=9),
            api_request(-100, 5, prompt_id=None),  # before any prompt of the session: unattributed
        ]
    )
    # in one batch: the second user_prompt completed the first before its id-less request came, so that one is
    # unattributed (no open prompt of the session started at or before it), as is the one before any prompt
    assert 2 == assembler.stats.unattributed
    assert [9] == [e.actual_output_tokens for e in events]
    assert 1 == assembler.stats.prompts_without_model  # the first prompt kept no model call


def test_old_versions_without_any_prompt_id() -> None:
    records = [
        user_prompt(0, None, prompt_id=None),  # type: ignore[arg-type]
        api_request(100, None, prompt_id=None),  # type: ignore[arg-type]
        user_prompt(1000, None, prompt_id=None),  # type: ignore[arg-type]
        api_request(1200, None, prompt_id=None, output_tokens=5),  # type: ignore[arg-type]
    ]
    events, _ = assemble(records)
    assert [500, 5] == [e.actual_output_tokens for e in events]


def test_idle_timeout_and_open_prompt_bound() -> None:
    events: list[TaskCompletionEvent] = []
    assembler = PromptAssembler(events.append, instance_id=INSTANCE, idle_timeout=60, max_open_prompts=2)
    for index, session in enumerate(["s1", "s2", "s3"]):
        batch = [user_prompt(0, 1, session=session), api_request(10, 2, session=session)]
        assembler.add(decode_logs(encode(batch), JSON).records, now=float(index))
    assert 1 == len(events)  # s1, the least recently active, was completed early
    assert {"evicted": 1} == dict(assembler.stats.prompts_completed)
    assert 0 == assembler.expire(now=60.5)  # s2 arrived at 1.0: idle for 59.5 s
    assert 1 == assembler.expire(now=61.0)
    assert 1 == assembler.expire(now=62.0)
    assert 0 == assembler.open_prompts
    assert 3 == len(events)


def test_prompt_without_model_call_makes_no_event() -> None:
    events, assembler = assemble([user_prompt(0, 1), bash_result(10, 2, "pytest")])
    assert [] == events
    assert 1 == assembler.stats.prompts_without_model


def test_task_type_default_and_opt_in_inference_from_exported_prompt_text() -> None:
    fixed, _ = assemble([user_prompt(0, 1), api_request(10, 2)], task_type="debugging")
    assert TaskType.DEBUGGING == fixed[0].task_type
    inferred, _ = assemble(
        [user_prompt(0, 1, text="Write unit tests for the parser"), api_request(10, 2)], infer_task_type=True
    )
    assert TaskType.TESTING == inferred[0].task_type
    redacted, _ = assemble([user_prompt(0, 1), api_request(10, 2)], infer_task_type=True)
    assert TaskType.UNKNOWN == redacted[0].task_type


def test_nothing_a_user_typed_is_kept_or_forwarded() -> None:
    secret_prompt = "refactor the billing module, password hunter2"
    events, assembler = assemble(
        [
            user_prompt(0, 1, text=secret_prompt),
            api_error(5, 2, attempt=2),
            api_request(10, 3),
            bash_result(20, 4, "pytest --token=hunter2"),
        ],
        infer_task_type=True,
    )
    everything = repr(events) + repr(events[0].model_dump()) + repr(assembler.stats.as_dict()) + repr(vars(assembler))
    for secret in ("hunter2", "billing", "secret details", "dev@example.com"):
        assert secret not in everything


def test_unknown_and_foreign_records_are_ignored_and_counted() -> None:
    events, assembler = assemble(
        [user_prompt(0, 1), api_request(10, 2), record("compaction", 20, 3), record("hook_started", 30, 4)]
    )
    assert 1 == len(events)
    assert 2 == assembler.stats.records_ignored
    assert 4 == assembler.stats.records_received


def test_malformed_double_is_rejected_not_crashing() -> None:
    bad = api_request(10, 2)
    for item in bad["attributes"]:
        if item["key"] == "cost_usd":
            item["value"] = {"doubleValue": {}}
    decoded = decode_logs(encode([user_prompt(0, 1), bad]), JSON)
    assert (1, 1) == (decoded.rejected, len(decoded.records))
    assert "cost_usd" in decoded.error


@pytest.mark.parametrize("field", ["input_tokens", "cost_usd", "attempt"])
def test_non_numeric_string_rejects_the_record(field: str) -> None:
    events: list[TaskCompletionEvent] = []
    assembler = PromptAssembler(events.append, instance_id=INSTANCE)
    bad = api_request(10, 2) if field != "attempt" else api_error(10, 2)
    for item in bad["attributes"]:
        if item["key"] == field:
            item["value"] = {"stringValue": "lots"}
    rejected, reason = assembler.add(decode_logs(encode([bad]), JSON).records, now=0.0)
    assert 1 == rejected
    assert field in reason
    assert 0 == assembler.stats.records_mapped


def test_a_prompt_whose_event_cannot_be_built_is_counted_not_raised() -> None:
    """A time no datetime can hold (before year 1; JSON integers are unbounded) makes no event: counted, not raised."""
    far = [user_prompt(0, 1, session="far"), api_request(10, 2, session="far")]
    for item in far:
        item["timeUnixNano"] = "-70000000000000000000"
    events, assembler = assemble([*far, user_prompt(0, 1), api_request(10, 2)])
    assert 1 == assembler.stats.prompts_invalid
    assert [20629] == [event.actual_input_tokens for event in events]


def test_event_name_field_wins_over_a_text_body() -> None:
    """OTLP's LogRecord.eventName is read first; a body of log text is then irrelevant."""
    request = api_request(10, 2)
    request["eventName"] = "claude_code.api_request"
    request["body"] = {"stringValue": "An API request happened"}
    request["attributes"] = [item for item in request["attributes"] if item["key"] != "event.name"]
    events, assembler = assemble([user_prompt(0, 1), request])
    assert (2, 0) == (assembler.stats.records_mapped, assembler.stats.records_ignored)
    assert [500] == [event.actual_output_tokens for event in events]
