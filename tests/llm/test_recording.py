"""The call itself raising: every entry point ends the record the same way (``recording``), and settings are checked
where they are written."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from mosaicstack_telemetry import Outcome
from mosaicstack_telemetry.llm import SkipReason, instrument, llm_call, stats, track_llm, wrap_stream
from mosaicstack_telemetry.llm.recorder import CallRecord, Options, recording

from . import payloads
from .conftest import FakeTelemetry

ARGS: dict[str, Any] = {
    "model": payloads.ANTHROPIC_MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "hi"}],
}


class Interrupted(BaseException):
    """Stands for a cancellation: a ``BaseException`` that is not an ``Exception``."""


def interrupted(request: httpx2.Request) -> httpx2.Response:
    raise Interrupted


@pytest.mark.parametrize(
    ("error", "outcome"),
    [(RuntimeError("boom"), Outcome.FAILURE), (TimeoutError(), Outcome.TIMEOUT)],
)
def test_recording_reports_an_exception_and_reraises_it(
    telemetry: FakeTelemetry, error: Exception, outcome: Outcome
) -> None:
    record = CallRecord(Options(telemetry=telemetry, model="gpt-4o"))

    with pytest.raises(type(error)) as caught, recording(record) as entered:
        raise error

    assert caught.value is error
    assert entered is record
    assert record.done
    assert outcome == telemetry.event.outcome
    assert (0, 0) == (telemetry.event.actual_input_tokens, telemetry.event.actual_output_tokens)


def test_recording_counts_a_cancellation_and_sends_nothing(telemetry: FakeTelemetry) -> None:
    record = CallRecord(Options(telemetry=telemetry, model="gpt-4o"))

    with pytest.raises(Interrupted), recording(record):
        raise Interrupted

    assert record.done
    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


def test_recording_leaves_a_call_that_returned_open(telemetry: FakeTelemetry) -> None:
    record = CallRecord(Options(telemetry=telemetry, model="gpt-4o"))

    with recording(record):
        pass

    assert not record.done
    assert [] == telemetry.events
    assert {} == dict(stats().skipped)


def test_track_llm_cancelled(telemetry: FakeTelemetry) -> None:
    @track_llm(telemetry, model="gpt-4o")
    def call() -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        call()

    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


async def test_track_llm_async_cancelled(telemetry: FakeTelemetry) -> None:
    @track_llm(telemetry, model="gpt-4o")
    async def call() -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await call()

    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


def test_instrumented_call_cancelled(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.anthropic_client(interrupted), telemetry)

    with pytest.raises(Interrupted):
        client.messages.create(**ARGS)

    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


async def test_instrumented_async_call_cancelled(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_anthropic_client(interrupted), telemetry)

    with pytest.raises(Interrupted):
        await client.messages.create(**ARGS)

    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


def test_stream_helper_cancelled_while_entering(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.anthropic_client(interrupted), telemetry)

    with pytest.raises(Interrupted), client.messages.stream(**ARGS):
        pass  # pragma: no cover - entering raises

    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


async def test_async_stream_helper_cancelled_while_entering(telemetry: FakeTelemetry) -> None:
    client = instrument(payloads.async_anthropic_client(interrupted), telemetry)

    with pytest.raises(Interrupted):
        async with client.messages.stream(**ARGS):
            pass  # pragma: no cover - entering raises

    assert [] == telemetry.events
    assert {SkipReason.CANCELLED: 1} == dict(stats().skipped)


def test_bad_settings_raise_where_they_are_written(telemetry: FakeTelemetry) -> None:
    """A bad enum value or an unknown keyword raises at setup, from every entry point, never during a call."""
    with pytest.raises(ValueError, match="reviewing"):
        llm_call(telemetry, task_type="reviewing")
    with pytest.raises(ValueError, match="hardest"):
        track_llm(telemetry, complexity="hardest")
    with pytest.raises(ValueError, match="telepathy"):
        wrap_stream(iter([]), telemetry, harness="telepathy")
    with pytest.raises(ValueError, match="hardest"):
        instrument(payloads.anthropic_client(interrupted), telemetry, complexity="hardest")
    with pytest.raises(TypeError, match="temperature"):
        track_llm(telemetry, temperature=0.2)

    assert [] == telemetry.events
