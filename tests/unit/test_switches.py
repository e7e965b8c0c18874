"""The switches users of posthog, sentry and OpenTelemetry reach for: ``before_send``, ``debug``, a ``dry_run`` that
needs no server, and the request timeout of predictions fetched before ``start``."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from mosaicstack_telemetry import (
    Complexity,
    DropReason,
    PredictionQuery,
    Provider,
    TaskCompletionEvent,
    TaskType,
    TelemetryClient,
    TelemetryConfig,
)
from mosaicstack_telemetry import _log as _debug
from tests.unit.fake_server import API_KEY, FakeServer
from tests.unit.test_engine import assert_balanced, client_for, event

# -- before_send ------------------------------------------------------------------------------------------------------


async def test_before_send_can_change_an_event() -> None:
    """The hook's result is what is sent (here: the model name scrubbed)."""

    def scrub(event: TaskCompletionEvent) -> TaskCompletionEvent:
        event.model = "redacted"
        return event

    server = FakeServer()
    async with client_for(server, before_send=scrub) as client:
        client.track(event())
        assert await client.flush_async()
    assert ["redacted"] == [wire["model"] for wire in server.delivered]


async def test_before_send_returning_none_drops_the_event_counted_filtered(caplog: pytest.LogCaptureFixture) -> None:
    """None drops the event: counted `filtered`, said once at INFO (a choice, not a problem)."""
    server = FakeServer()
    keep_every_other = iter([True, False] * 5)

    def sample(event: TaskCompletionEvent) -> TaskCompletionEvent | None:
        return event if next(keep_every_other) else None

    with caplog.at_level(logging.DEBUG, logger="mosaicstack_telemetry"):
        async with client_for(server, before_send=sample) as client:
            for _ in range(10):
                client.track(event())
            assert await client.flush_async()
    assert 5 == len(server.delivered)
    assert {DropReason.FILTERED: 5} == dict(client.stats.dropped)
    assert 10 == client.stats.tracked
    (said,) = [record for record in caplog.records if "dropping events (filtered)" in record.getMessage()]
    assert logging.INFO == said.levelno
    assert 4 == sum("dropped an event (filtered)" in record.getMessage() for record in caplog.records)
    assert_balanced(client)


async def test_a_before_send_that_raises_sends_the_original_and_logs_once_per_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing hook never loses the event, and logs each kind of failure once."""
    errors = iter([KeyError("k"), KeyError("again"), ValueError("v")])

    def broken(event: TaskCompletionEvent) -> TaskCompletionEvent:
        raise next(errors)

    server = FakeServer()
    async with client_for(server, before_send=broken) as client:
        for _ in range(3):
            client.track(event())
        assert await client.flush_async()
    assert 3 == len(server.delivered)
    logged = [record for record in caplog.records if "before_send raised" in record.getMessage()]
    assert ["KeyError", "ValueError"] == [type(record.exc_info[1]).__name__ for record in logged if record.exc_info]


async def test_a_before_send_that_returns_something_else_sends_the_original(caplog: pytest.LogCaptureFixture) -> None:
    """A dict is not an event: the original goes out (a wrong object would fail the whole batch's encoding)."""
    server = FakeServer()
    async with client_for(server, before_send=lambda event: {"not": "an event"}) as client:
        client.track(event())
        client.track(event())
        assert await client.flush_async()
    assert 2 == len(server.delivered)
    assert 1 == caplog.text.count("before_send returned a dict")


def test_a_before_send_that_is_not_callable_is_named_by_validate_and_ignored() -> None:
    """Config reports it as the original reports every problem: validate() names it; the client runs without it."""
    config = TelemetryConfig(
        server_url="http://x.test",
        api_key=API_KEY,
        instance_id="12345678-1234-4234-8234-123456789abc",
        before_send=3,  # type: ignore[arg-type]
    )
    assert ["before_send=3 must be callable or None"] == config.validate()
    client = TelemetryClient(config)
    client.track(event())
    assert 1 == client.stats.queued


def test_before_send_is_not_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOSAIC_TELEMETRY_BEFORE_SEND", "os.system")
    assert TelemetryConfig().before_send is None


# -- debug ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_debug_handler() -> Any:
    """Each test starts with no debug handler on the library's logger, and leaves none behind."""
    logger = logging.getLogger(_debug.LOGGER_NAME)
    level = logger.level
    yield
    if _debug._handler is not None:
        logger.removeHandler(_debug._handler)
        _debug._handler = None
    logger.setLevel(level)


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("TRUE", True), (" yes ", True), ("0", False), ("", False)]
)
def test_debug_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    """1/true/yes in any case turn it on; anything else leaves the config's own value."""
    monkeypatch.setenv("MOSAIC_TELEMETRY_DEBUG", value)
    assert expected == TelemetryConfig().debug
    assert TelemetryConfig(debug=True).debug


@pytest.mark.usefixtures("fresh_debug_handler")
async def test_debug_prints_batches_retries_and_drops_on_stderr_never_the_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One handler on the library's logger (never the root logger): a line per batch sent, per retry, per drop."""
    root_handlers = list(logging.getLogger().handlers)
    server = FakeServer(503)
    async with client_for(server, debug=True, submit_interval_seconds=1) as other:
        other.track("not an event")  # type: ignore[arg-type]
        other.track("not an event either")  # type: ignore[arg-type]
        other.track(event())
        assert await other.flush_async() is False  # 503: one attempt, then the flush reports
        assert await other.flush_async() is True
    TelemetryClient(other.config)  # a second client with debug adds no second handler
    err = capsys.readouterr().err
    assert root_handlers == logging.getLogger().handlers
    assert 1 == sum(isinstance(h, _debug._StderrHandler) for h in logging.getLogger("mosaicstack_telemetry").handlers)
    assert "attempt 1 of 4 for a batch of 1 failed (HTTP 503" in err
    assert "sent a batch of 1 events: HTTP 202 in" in err
    assert "(1 accepted, 0 duplicates, 0 rejected)" in err
    assert "dropping events (invalid_event): got str" in err
    assert "dropped an event (invalid_event): got str" in err
    assert API_KEY not in err


# -- dry run ----------------------------------------------------------------------------------------------------------


async def test_a_dry_run_needs_no_server_settings(caplog: pytest.LogCaptureFixture) -> None:
    """No server_url, api_key or instance_id: nothing dropped as invalid_config, the original's INFO line, the
    batch's events at DEBUG (never a key), and the builder's instance id is the nil UUID."""
    caplog.set_level(logging.DEBUG, logger="mosaicstack_telemetry")
    client = TelemetryClient(TelemetryConfig(dry_run=True))
    built = client.event_builder().model("m").build()
    assert "00000000-0000-0000-0000-000000000000" == str(built.instance_id)
    async with client:
        client.track(built)
        assert await client.flush_async() is True
    assert (1, {}) == (client.stats.sent, dict(client.stats.dropped))
    info = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
    assert "[DRY RUN] Would submit batch of 1 events to (no server_url)/v1/events/batch" in info
    (batch,) = [
        record.getMessage() for record in caplog.records if record.getMessage().startswith("[DRY RUN] the batch")
    ]
    assert str(built.event_id) in batch
    assert '"model":"m"' in batch
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_a_dry_run_still_names_a_malformed_setting(caplog: pytest.LogCaptureFixture) -> None:
    """Only settings left empty are excused: a key that is set but malformed is still reported."""
    TelemetryClient(TelemetryConfig(dry_run=True, api_key="abc"))
    assert "api_key must be a 64-character hex string" in caplog.text
    assert "server_url is required" not in caplog.text


async def test_a_dry_run_without_a_server_fetches_no_predictions() -> None:
    """refresh_predictions needs a server: without server_url it is a no-op, as when disabled."""
    server = FakeServer()
    client = TelemetryClient(TelemetryConfig(dry_run=True), transport=server.transport)
    await client.refresh_predictions([QUERY])
    assert [] == server.prediction_requests


# -- predictions before start -----------------------------------------------------------------------------------------

QUERY = PredictionQuery(task_type=TaskType.TESTING, model="m", provider=Provider.OPENAI, complexity=Complexity.LOW)


async def test_predictions_fetched_before_start_use_request_timeout_seconds() -> None:
    """The short-lived HTTP client comes from the same factory as the core's: request_timeout_seconds, not httpx's
    5 s default, on every phase."""
    seen: list[dict[str, Any]] = []
    server = FakeServer()

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return await server.handle(request)

    client = TelemetryClient(
        client_for(server, request_timeout_seconds=42.0).config, transport=httpx.MockTransport(handler)
    )
    await client.refresh_predictions([QUERY])
    assert client.get_prediction(QUERY) is not None
    assert [{"connect": 42.0, "read": 42.0, "write": 42.0, "pool": 42.0}] == seen
