"""``send FILE.jsonl``: every good line delivered, bad lines reported by number, failing servers bounded, and
backpressure: reading never runs ahead of the server by more than the queue, so nothing is evicted."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from uuid import UUID, uuid5

import click
import pytest

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig, TelemetryError
from mosaicstack_telemetry.cli.lines import SendReport, cut, line_event_id, parse_line, read_events
from mosaicstack_telemetry.cli.probe import check_server
from mosaicstack_telemetry.cli.send import Sender, _headline
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
    assert "bad lines       4" in done.stdout


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
    assert "sent            50" in good.stdout
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
    assert f"{server.url} refused the api key: HTTP 403" in refused.stderr
    server.faults.fail_next(1, 503)  # the check before reading goes ahead on a 503; then every request hangs
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


def test_read_events_counts_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines are numbered from 1, blank ones skipped silently, bad ones counted and passed on with their number;
    the report lists the first KEPT_BAD_LINES of them and counts the rest."""
    monkeypatch.setattr("mosaicstack_telemetry.cli.lines.KEPT_BAD_LINES", 1)
    report = SendReport()
    bad: list[tuple[int, str]] = []
    lines = [b"\n", b"{}\n", b"  \n", b"\xff\n"]
    assert [] == list(read_events(lines, report, instance_id=None, on_bad=lambda n, why: bad.append((n, why))))
    assert (4, 2, 2) == (report.lines, report.blank, report.invalid)
    assert [2, 4] == [number for number, _ in bad]
    assert ([2], 1) == ([kept.line for kept in report.bad], report.bad_omitted)


# -- idempotence, what the summary says, failing fast ---------------------------------------------------------------


def _without_ids(events: list[TaskCompletionEvent]) -> list[str]:
    """The events as JSONL lines without ``event_id`` (what a user writes by hand)."""
    lines = []
    for event in events:
        data = json.loads(event.model_dump_json())
        del data["event_id"]
        lines.append(json.dumps(data))
    return lines


def test_sending_a_file_twice_stores_nothing_new(
    server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path
) -> None:
    """Lines without an event_id get deterministic ids: the second send stores nothing, counts every event as
    already on the server, says so in its heading, and still exits 0 (everything is delivered)."""
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f"{line}\n" for line in _without_ids(events[:40])), encoding="utf-8")
    args = ["--json", *server_args(server.url, server.api_key)]
    first = run_cli("send", str(path), *args)
    assert 0 == first.returncode, first.stderr
    assert (40, 40, 0) == tuple(parse_json(first.stdout)[key] for key in ("sent", "new", "duplicates"))
    second = run_cli("send", str(path), *args)
    assert 0 == second.returncode, second.stderr
    report = parse_json(second.stdout)
    assert (40, 0, 40) == (report["sent"], report["new"], report["duplicates"])
    assert report["summary"].startswith("Nothing new: the server already held all 40 events")
    assert 40 == server.storage.count_events()
    human = invoke("send", str(path), *server_args(server.url, server.api_key))
    assert 0 == human.exit_code, human.stderr
    assert human.stdout.startswith(f"Nothing new: the server already held all 40 events of {path}")
    assert "already stored  40" in human.stdout


def test_line_ids_are_uuid5_of_the_instance_and_the_canonical_json() -> None:
    """The id is uuid5(SEND_NAMESPACE, "<instance id> <sorted keys, no whitespace>"): spacing, key order and the
    instance id's spelling do not change it; the content and the instance do; a line's own event_id is kept."""
    instance = UUID("12345678-1234-4234-8234-123456789abc")
    event = simulate(1, seed=3, instance_id=instance)[0]
    data = json.loads(event.model_dump_json())
    del data["event_id"]
    data["instance_id"] = str(instance).upper()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = uuid5(UUID("86e8b274-8ea3-4ec5-8cab-6291ad9ad4fb"), f"{instance} {canonical}")
    assert expected == line_event_id(instance, data)
    spaced = json.dumps(dict(reversed(list(data.items()))), indent=2).replace("\n", " ")
    assert expected == parse_line(spaced, instance_id=None).event_id
    assert expected == parse_line(canonical.encode(), instance_id=instance).event_id
    changed = parse_line(json.dumps({**data, "retry_count": data["retry_count"] + 1}), instance_id=None)
    assert expected != changed.event_id
    other = UUID("22345678-1234-4234-8234-123456789abc")
    assert expected != parse_line(json.dumps({**data, "instance_id": str(other)}), instance_id=None).event_id
    own = "00000000-0000-4000-8000-00000000000a"
    assert UUID(own) == parse_line(json.dumps({**data, "event_id": own}), instance_id=None).event_id


def test_json_lists_each_bad_line_and_cuts_long_reasons(
    server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path
) -> None:
    """--json lists every bad line's number and reason; a reason cut at 500 characters ends with "…"."""
    path = write_jsonl(tmp_path / "events.jsonl", events[:30], extra=BAD_LINES)
    done = invoke("send", str(path), "--json", *server_args(server.url, server.api_key))
    assert 1 == done.exit_code
    report = parse_json(done.stdout)
    assert 4 == report["invalid"]
    assert [3, 8, 13, 21] == [error["line"] for error in report["errors"]]
    assert report["errors"][0]["reason"].startswith("invalid JSON")
    assert "expected an object, got null" == report["errors"][3]["reason"]
    cut_reason = report["errors"][2]["reason"]  # every missing field named: over 500 characters
    assert "task_duration_ms=-1 is outside 0..86400000" in cut_reason
    assert (500, "…") == (len(cut_reason), cut_reason[-1])
    assert 0 == report["errors_omitted"]
    assert report["summary"].endswith("4 bad lines skipped")
    assert f"line 13: {cut_reason}" in done.stderr


def test_cut() -> None:
    """Short texts are kept; a cut keeps the limit and marks the cut."""
    assert "abc" == cut("abc", 3)
    assert "ab…" == cut("abcd", 3)


def test_the_summary_names_each_drop_reason(
    server: ServerThread, events: list[TaskCompletionEvent], tmp_path: Path
) -> None:
    """Events of another instance make the server refuse their batch (403): the summary says dropped, why, and
    the server's error, under a heading that says where it stopped."""
    stranger = UUID("00000000-0000-4000-8000-000000000001")
    foreign = [event.model_copy(update={"instance_id": stranger}) for event in events[:5]]
    path = write_jsonl(tmp_path / "events.jsonl", foreign)
    done = invoke("send", str(path), *server_args(server.url, server.api_key))
    assert 1 == done.exit_code
    assert done.stdout.startswith(f"Stopped at line 5: 0 of 5 events of {path} sent")
    assert "dropped         5 (non_retryable 5)" in done.stdout
    assert "last error      HTTP 403" in done.stdout


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"tracked": 0, "invalid": 2}, "Nothing sent: f.jsonl has no valid events (2 bad lines)"),
        ({"tracked": 0}, "Nothing sent: f.jsonl has no valid events"),
        ({"tracked": 3, "sent": 1, "new": 1}, "Not everything was sent: 1 of 3 events of f.jsonl"),
        ({"tracked": 3, "sent": 3, "new": 1, "duplicates": 2}, "Sent f.jsonl: 1 new event stored, 2 it already held"),
        (
            {"tracked": 1, "sent": 1, "invalid": 1},
            "Nothing new: the server already held all 1 event of f.jsonl; 1 bad line skipped",
        ),
        (
            {"tracked": 4, "sent": 1, "stopped": "why", "stopped_at_line": 9},
            "Stopped at line 9: 1 of 4 events of f.jsonl sent",
        ),
    ],
)
def test_the_heading_says_what_happened(counts: dict[str, object], expected: str) -> None:
    """The summary's first line, for each way a send can end."""
    document = {"file": "f.jsonl", "sent": 0, "new": 0, "duplicates": 0, "invalid": 0, "stopped": None, "lines": 9}
    assert expected == _headline({**document, **counts})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_nothing_listening_fails_fast(events: list[TaskCompletionEvent], tmp_path: Path) -> None:
    """No server: exit 1 within seconds, before reading the file, naming the URL and the error; stdout empty."""
    url = f"http://127.0.0.1:{_closed_port()}"
    path = write_jsonl(tmp_path / "events.jsonl", events[:10])
    started = time.monotonic()
    done = run_cli("send", str(path), *server_args(url, "a" * 64), timeout=20)
    assert time.monotonic() - started < 10
    assert 1 == done.returncode
    assert "" == done.stdout
    assert f"cannot reach {url}: request to {url}/v1/events/batch failed: ConnectError" in done.stderr


@pytest.mark.parametrize(
    ("status", "goes_ahead", "message"),
    [
        (503, True, ""),
        (429, True, ""),
        (404, False, "cannot take events: HTTP 404"),
        (401, False, "refused the api key: HTTP 401"),
    ],
)
def test_the_check_before_reading(server: ServerThread, status: int, goes_ahead: bool, message: str) -> None:
    """An empty batch is the probe: our server answers it 422 (reachable, authorised); a busy server (429, 5xx)
    is left to the send's retries; 401/403 is a wrong key; another 4xx is no API there."""
    config = TelemetryConfig(server_url=server.url, api_key=server.api_key, request_timeout_seconds=2.0)
    check_server(config)  # 422: go ahead
    assert 0 == server.storage.count_events()
    server.faults.fail_next(1, status)
    if goes_ahead:
        check_server(config)
        return
    with pytest.raises(click.ClickException) as raised:
        check_server(config)
    assert raised.value.message.startswith(f"{server.url} {message}")


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress is redrawn every 10 lines here, so the in-process runs take that path too."""
    monkeypatch.setattr("mosaicstack_telemetry.cli.send.PROGRESS_EVERY", 10)
