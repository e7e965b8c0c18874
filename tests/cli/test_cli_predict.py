"""``predict``: one combination from a live server, as a table or JSON; unreachable or failing servers are exit 1."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.server.runner import ServerThread

from ._support import invoke, parse_json, run_cli, server_args

COMBINATION = ["--task-type", "implementation", "--model", "claude-sonnet-4-20250514", "--provider", "anthropic"]


@pytest.fixture
def stocked(server: ServerThread, events: list[TaskCompletionEvent]) -> ServerThread:
    """The server with the simulated events stored."""
    server.storage.insert_events(events, datetime.now(timezone.utc))
    return server


def test_table_in_a_subprocess(stocked: ServerThread) -> None:
    """The prediction, readable: sample size, tokens, cost, duration, rates, confidence."""
    done = run_cli("predict", *COMBINATION, *server_args(stocked.url, stocked.api_key))
    assert 0 == done.returncode, done.stderr
    for label in ("based on", "confidence", "input tokens", "output tokens", "cost", "duration", "success rate"):
        assert label in done.stdout
    assert "implementation / claude-sonnet-4-20250514 / anthropic / medium" in done.stdout


def test_json_in_a_subprocess(stocked: ServerThread) -> None:
    """--json: the query and the server's response, in the wire format, and nothing else on stdout."""
    done = run_cli(
        "predict", *COMBINATION, "--complexity", "high", "--json", *server_args(stocked.url, stocked.api_key)
    )
    assert 0 == done.returncode, done.stderr
    document = parse_json(done.stdout)
    assert "high" == document["query"]["complexity"]
    assert document["response"]["metadata"]["sample_size"] > 0
    assert document["response"]["prediction"]["input_tokens"]["median"] > 0


def test_no_data_is_an_answer(server: ServerThread) -> None:
    """An empty server answers "no data": printed, exit 0 (the server did answer)."""
    done = run_cli("predict", *COMBINATION, *server_args(server.url, server.api_key))
    assert 0 == done.returncode, done.stderr
    assert "none: the server has no events for this task type" in done.stdout


def test_unreachable_server_is_exit_1(server: ServerThread) -> None:
    """A closed port: exit 1 with the reason on stderr, quickly, no traceback."""
    port = server.port
    server.stop()
    started = time.monotonic()
    done = run_cli("predict", *COMBINATION, "--max-retries", "1", *server_args(f"http://127.0.0.1:{port}", "a" * 64))
    assert 1 == done.returncode
    assert "no prediction from" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 20


def test_failing_server_is_exit_1(server: ServerThread) -> None:
    """A server answering 500 to every attempt: exit 1, naming the status."""
    server.faults.fail_next(10, 500)
    done = run_cli("predict", *COMBINATION, "--max-retries", "1", *server_args(server.url, server.api_key))
    assert 1 == done.returncode
    assert "HTTP 500" in done.stderr


def test_in_process(stocked: ServerThread) -> None:
    """Table, JSON, a bad key (403 is not retried: exit 1 at once), a bad model name (exit 2) — in this process."""
    args = server_args(stocked.url, stocked.api_key)
    table = invoke("predict", *COMBINATION, *args)
    assert 0 == table.exit_code, table.stderr
    assert "confidence" in table.stdout
    assert parse_json(invoke("predict", *COMBINATION, "--json", *args).stdout)["response"]["prediction"]
    refused = invoke("predict", *COMBINATION, *server_args(stocked.url, "b" * 64))
    assert 1 == refused.exit_code
    assert "HTTP 403" in refused.stderr
    too_long = invoke("predict", "--task-type", "testing", "--model", "m" * 101, "--provider", "openai", *args)
    assert 2 == too_long.exit_code
    assert "--model" in too_long.stderr
