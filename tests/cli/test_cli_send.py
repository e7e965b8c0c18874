"""``send FILE.jsonl``: every good line delivered, bad lines reported by number, failing servers bounded, and
backpressure: reading never runs ahead of the server by more than the queue, so nothing is evicted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig, TelemetryError
from mosaicstack_telemetry.cli.send import Sender, SendReport, read_events
from mosaicstack_telemetry.cli.workload import simulate
from mosaicstack_telemetry.server.runner import ServerThread

from ._support import invoke, parse_json, run_cli, server_args, write_jsonl

BAD_LINES = [
    (3, '{"broken json'),
    (5, ""),
    (8, "[1, 2, 3]"),
    (13, '{"task_duration_ms": -1}'),
    (21, "null"),
]


def _config(server: ServerThread, **overrides: object) -> TelemetryConfig:
    values: dict[str, object] = {
        "server_url": server.url,
        "api_key": server.api_key,
        "instance_id": str(server.instance_id),
        "submit_interval_seconds": 0.5,
        "request_timeout_seconds": 2.0,
        "shutdown_timeout_seconds": 2.0,
    }
    values.update(overrides)
    return TelemetryConfig(**values)  # type: ignore[arg-type]


def test_a_good_file_in_a_subprocess(server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path) -> None:
    """Every line delivered and stored; --json is the only thing on stdout; exit 0."""
    path = write_jsonl(tmp_path / "events.jsonl", events)
    done = run_cli("send", str(path), "--json", *server_args(server.url, server.api_key))
    assert 0 == done.returncode, done.stderr
    report = parse_json(done.stdout)
    assert (True, 300, 300, 0, 0) == (
        report["ok"],
        report["lines"],
        report["sent"],
        report["invalid"],
        report["unsent"],
    )
    assert 300 == server.storage.count_events()


def test_bad_lines_are_reported_by_number_and_skipped(
    server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path
) -> None:
    """Bad lines: each on stderr as "line N: why", the rest sent, exit 1, never a traceback; blank lines are fine."""
    path = write_jsonl(tmp_path / "events.jsonl", events[:30], extra=BAD_LINES)
    done = run_cli("send", str(path), *server_args(server.url, server.api_key))
    assert 1 == done.returncode
    reported = [line for line in done.stderr.splitlines() if line.startswith("line ")]
    assert ["line 3:", "line 8:", "line 13:", "line 21:"] == [
        line.split()[0] + " " + line.split()[1] for line in reported
    ]
    assert "expected an object, got list" in reported[1]
    assert "task_duration_ms=-1 is outside 0..86400000" in reported[2]
    assert "Traceback" not in done.stderr
    assert 30 == server.storage.count_events()
    assert "bad lines   4" in done.stdout


def test_a_failing_server_is_exit_1_and_bounded(
    server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path
) -> None:
    """A server answering 500 to everything: send gives up after --patience, reports what was not sent, exit 1."""
    server.faults.fail_next(10_000, 500)
    path = write_jsonl(tmp_path / "events.jsonl", events)
    started = time.monotonic()
    args = ["--json", "--patience", "0", "--timeout", "2", *server_args(server.url, server.api_key)]
    done = run_cli("send", str(path), *args, timeout=30)
    assert 1 == done.returncode
    assert time.monotonic() - started < 20
    report = parse_json(done.stdout)
    assert 0 == report["sent"]
    assert 300 == report["unsent"]
    assert "the server took no event for 0 s: HTTP 500" in report["stopped"]
    assert 0 == server.storage.count_events()


def test_usage_errors(tmp_path: Path) -> None:
    """A missing file and a missing server URL are usage errors: exit 2."""
    missing = run_cli("send", str(tmp_path / "nope.jsonl"), *server_args("http://127.0.0.1:9", "a" * 64))
    assert 2 == missing.returncode
    assert "cannot read" in missing.stderr
    path = write_jsonl(tmp_path / "empty.jsonl", [])
    unconfigured = run_cli("send", str(path))
    assert 2 == unconfigured.returncode
    assert "server_url is required (--server-url or MOSAIC_TELEMETRY_SERVER_URL)" in unconfigured.stderr


# -- in process: the same paths, measured, and the backpressure itself --------------------------------------------


def test_in_process_good_bad_and_stdin(server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path) -> None:
    """The command's paths in this process: a good file, bad lines (with a foreign instance), and stdin."""
    args = server_args(server.url, server.api_key, "--instance-id", str(server.instance_id))
    good = invoke("send", str(write_jsonl(tmp_path / "good.jsonl", events[:50])), *args)
    assert 0 == good.exit_code, good.stderr
    assert "sent        50" in good.stdout
    stranger = events[60].model_copy(update={"instance_id": "00000000-0000-4000-8000-000000000001"})
    bad = invoke("send", str(write_jsonl(tmp_path / "bad.jsonl", [*events[50:60], stranger], extra=BAD_LINES)), *args)
    assert 1 == bad.exit_code
    assert "line 3:" in bad.stderr
    assert "is not --instance-id" in bad.stderr
    lines = "".join(f"{event.model_dump_json()}\n" for event in events[100:120])
    piped = invoke("send", "-", "--json", *args, stdin=lines)
    assert 0 == piped.exit_code, piped.stderr
    assert 20 == parse_json(piped.stdout)["sent"]
    assert 80 == server.storage.count_events()


def test_in_process_refused_and_hanging(
    server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path
) -> None:
    """A key the server refuses stops at once (403 is not retried); a hanging server costs --timeout per attempt."""
    path = write_jsonl(tmp_path / "events.jsonl", events[:20])
    refused = invoke("send", str(path), *server_args(server.url, "c" * 64))
    assert 1 == refused.exit_code
    assert "the server refused a batch: HTTP 403" in refused.stderr
    server.faults.hang = True
    started = time.monotonic()
    args = ["--patience", "0", "--timeout", "0.3", "--max-retries", "1", "--json"]
    hung = invoke("send", str(path), *args, *server_args(server.url, server.api_key))
    assert 1 == hung.exit_code
    assert "timed out" in parse_json(hung.stdout)["stopped"]
    assert time.monotonic() - started < 15


def test_backpressure_never_drops(server: ServerThread, events: list[TaskCompletionEvent]) -> None:
    """A slow server (20 ms a request) and a small queue (50): the sender keeps queued + in flight within the
    queue, so all 1,500 events arrive; the same loop without it loses events to overflow (the control)."""
    server.faults.delay = 0.02
    stream = simulate(1_500, seed=5, instance_id=server.instance_id)
    config = _config(server, max_queue_size=50, batch_size=10)
    failures: list[TelemetryError] = []
    peak = 0
    with TelemetryClient(config) as client:
        sender = Sender(client, patience=10, failures=failures)
        for event in stream:
            assert sender.track(event)
            stats = client.stats
            peak = max(peak, stats.queued + stats.in_flight)
        assert sender.finish()
    assert peak <= 50
    assert (1_500, 1_500, {}) == (client.stats.tracked, client.stats.sent, dict(client.stats.dropped))

    with TelemetryClient(_config(server, max_queue_size=50, batch_size=10)) as control:
        for event in stream:
            control.track(event)
    assert control.stats.dropped.get("overflow", 0) > 0


def test_sender_gives_up_after_its_patience(server: ServerThread, events: list[TaskCompletionEvent]) -> None:
    """While flushes settle nothing, it waits 1 s, then doubling (never past the patience left), then stops."""
    server.faults.fail_next(10_000, 503)
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    failures: list[TelemetryError] = []
    with TelemetryClient(_config(server, on_error=failures.append, max_retries=1)) as client:
        sender = Sender(client, patience=3.5, failures=failures, clock=lambda: now[0], sleep=sleep)
        assert sender.track(events[0])
        assert not sender.finish()
        assert not sender.finish()  # once stopped, stays stopped
        assert not sender.track(events[1])
    assert [1.0, 2.0, 0.5] == sleeps
    assert sender.stopped is not None
    assert sender.stopped.startswith("the server took no event for 3.5 s: HTTP 503")


def test_read_events_counts_lines() -> None:
    """Lines are numbered from 1, blank ones skipped silently, bad ones counted and passed on with their number."""
    report = SendReport()
    bad: list[tuple[int, str]] = []
    lines = [b"\n", b"{}\n", b"  \n", b"\xff\n"]
    assert [] == list(read_events(lines, report, instance_id=None, on_bad=lambda n, why: bad.append((n, why))))
    assert (4, 2, 2) == (report.lines, report.blank, report.invalid)
    assert [2, 4] == [number for number, _ in bad]


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress is redrawn every 10 lines here, so the in-process runs take that path too."""
    monkeypatch.setattr("mosaicstack_telemetry.cli.send.PROGRESS_EVERY", 10)
