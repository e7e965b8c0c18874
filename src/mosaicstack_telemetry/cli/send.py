"""``mosaic-telemetry send FILE.jsonl``: submit a file of events, one JSON object a line, through the SDK's client.

Before reading the file, one request checks that the server is there and takes the api key (:mod:`.probe`): with
nothing listening, or a wrong key, the command exits 1 at once, naming the URL and the error.

The file is read lazily, a line at a time, so its size does not matter. Each line is parsed with the event model
(:mod:`.lines`: a line without an ``event_id`` gets a deterministic one, so sending a file again stores nothing
twice); a line that does not parse (or belongs to another instance than ``--instance-id``: the server would refuse
its whole batch) is reported on stderr with its number and skipped. Blank lines are skipped silently. The summary
is headed by what happened and says how many events were new, how many the server already held, and why any were
dropped; ``--json`` lists each bad line's number and reason.

**Backpressure.** ``track()`` never blocks: when the client's queue is full it evicts the oldest event. A file read
faster than the server takes it would lose events, so :class:`Sender` bounds what is *outstanding* — tracked and not
yet settled (sent, rejected or dropped), i.e. queued plus in flight — by the queue's capacity. Before each group of
``batch_size`` events it checks ``queued + in_flight <= max_queue_size - batch_size`` and, while that is false,
calls the client's ``flush()``, which returns once everything queued is settled or a send cycle failed. So:

* the queue never holds more than ``max_queue_size`` events: nothing is evicted;
* a batch whose send failed can always go back to the queue (the client re-queues only as far as free capacity
  allows, and the room it needs is exactly what the batch took out);
* between checks the client sends full batches on its own, while this thread keeps parsing.

When a flush settles nothing — the server is down, or answers errors after every retry — the sender waits (1 s,
doubling, at most 10 s) and flushes again, for at most ``--patience`` seconds; then it stops reading and reports.
A batch the server refuses for good (401, 403, 413, 422…) stops it at once: the next batches would fare the same.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO
from uuid import UUID

import click
from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ..client import TelemetryClient
from ..errors import TelemetryError
from ..events import TaskCompletionEvent
from ..stats import ClientStats
from .lines import SendReport, read_events
from .options import EXIT_CODES_HELP, EXIT_FAILURE, client_config, json_option, server_options
from .output import Ui, emit_json, key_values
from .probe import check_server

__all__ = ["Sender", "send"]

#: Longest wait between two flushes while the server takes nothing.
MAX_PAUSE_SECONDS = 10.0
#: Failed attempts kept for the report (the most recent).
KEPT_FAILURES = 5
#: Progress is redrawn every this many lines.
PROGRESS_EVERY = 1_000


class Sender:
    """Tracks events through ``client`` without ever letting its queue overflow (see the module docstring).

    :param patience: seconds of flushes that settle nothing before giving up.
    :param failures: where the client's ``on_error`` puts failed attempts (the last one explains a stop).
    :param clock: monotonic seconds; :param sleep: waits (both injectable for tests).
    """

    def __init__(
        self,
        client: TelemetryClient,
        *,
        patience: float,
        failures: list[TelemetryError],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        config = client.config
        self._client = client
        self._group = max(1, min(config.batch_size, config.max_queue_size))
        self._capacity = config.max_queue_size
        self._patience = patience
        self._clock = clock
        self._sleep = sleep
        self._in_group = 0
        self._failures = failures
        #: why sending stopped early, or ``None``
        self.stopped: str | None = None

    def track(self, event: TaskCompletionEvent) -> bool:
        """Track ``event``, first making room if needed; ``False`` (and nothing tracked) once sending gave up."""
        if self.stopped is not None:
            return False
        if self._in_group == 0 and not self._wait_until(self._capacity - self._group):
            return False
        self._client.track(event)
        self._in_group = (self._in_group + 1) % self._group
        return True

    def finish(self) -> bool:
        """Deliver everything tracked; ``False`` if sending gave up first."""
        return self.stopped is None and self._wait_until(0)

    def _wait_until(self, outstanding: int) -> bool:
        """Flush until at most ``outstanding`` events are unsettled; ``False`` when giving up (sets :attr:`stopped`)."""
        stalled_since: float | None = None
        pause = 1.0
        while True:
            stats = self._client.stats
            if stats.dropped_total:  # overflow cannot happen here: the server refused a batch for good
                self.stopped = f"the server refused a batch: {self._last_failure()}"
                return False
            if stats.queued + stats.in_flight <= outstanding:
                return True
            settled = _settled(stats)
            self._client.flush()
            if _settled(self._client.stats) > settled:
                stalled_since, pause = None, 1.0
                continue
            now = self._clock()
            stalled_since = now if stalled_since is None else stalled_since
            left = self._patience - (now - stalled_since)
            if left <= 0:
                self.stopped = f"the server took no event for {self._patience:g} s: {self._last_failure()}"
                return False
            self._sleep(min(pause, left))
            pause = min(pause * 2, MAX_PAUSE_SECONDS)

    def _last_failure(self) -> str:
        return str(self._failures[-1]) if self._failures else "no reason given"


def _settled(stats: ClientStats) -> int:
    return stats.sent + stats.rejected + stats.dropped_total


def _open(path: str) -> tuple[AbstractContextManager[BinaryIO], int | None]:
    """The file (``-``: stdin, left open) and its size when known, or a usage error (exit 2)."""
    if path == "-":
        return contextlib.nullcontext(sys.stdin.buffer), None
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - the caller's with block closes it
    except OSError as error:
        raise click.BadParameter(f"cannot read {path!r}: {error.strerror or error}", param_hint="FILE") from None
    return handle, os.fstat(handle.fileno()).st_size


def _measured(handle: BinaryIO, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    for line in handle:
        on_bytes(len(line))
        yield line


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("file", metavar="FILE.jsonl", type=click.Path(dir_okay=False, allow_dash=True))
@server_options
@click.option("--batch-size", type=click.IntRange(1, 100), default=100, show_default=True, help="Events per request.")
@click.option(
    "--queue-size",
    type=click.IntRange(1, 1_000_000),
    default=1_000,
    show_default=True,
    help="The client's queue: the most events read ahead of the server.",
)
@click.option(
    "--patience",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Give up after the server has taken nothing for this long.",
)
@json_option
@click.pass_obj
def send(
    ui: Ui,
    *,
    file: str,
    server_url: str | None,
    api_key: str | None,
    instance_id: str | None,
    timeout: float,
    max_retries: int,
    batch_size: int,
    queue_size: int,
    patience: float,
    as_json: bool,
) -> None:
    """Send FILE.jsonl to a server (one event a line; - reads stdin).

    First one request checks that the server answers and takes the key: if not, exit 1 at once. A line without an
    event_id gets one derived from its content (a UUIDv5), so sending the same file again stores nothing twice:
    the summary counts such events as already on the server. Bad lines are reported on stderr with their line
    numbers and skipped; with --instance-id, so are events of another instance (the server would refuse their
    whole batch). Reading never runs ahead of the server by more than --queue-size events, so no event is dropped,
    however large the file. Exits 1 if any line was bad or any event was rejected or not sent.
    """
    report = SendReport()
    failures: list[TelemetryError] = []
    config = client_config(
        server_url=server_url,
        api_key=api_key,
        instance_id=instance_id,
        request_timeout_seconds=timeout,
        max_retries=max_retries,
        batch_size=batch_size,
        max_queue_size=queue_size,
        submit_interval_seconds=0.5,
        shutdown_timeout_seconds=max(timeout, 1.0),
        on_error=failures.append,
    )
    expected = UUID(config.instance_id) if config.instance_id else None
    opened, size = _open(file)
    with opened as handle:
        check_server(config)
        with TelemetryClient(config) as client:
            sender = Sender(client, patience=patience, failures=failures)
            _send_lines(ui, handle, size=size, sender=sender, client=client, report=report, expected=expected)
    document = _document(file, report, client.stats, sender.stopped, failures[-KEPT_FAILURES:])
    if as_json:
        emit_json(document)
    else:
        _print(ui, document)
    if not document["ok"]:
        raise SystemExit(EXIT_FAILURE)


def _send_lines(
    ui: Ui,
    handle: BinaryIO,
    *,
    size: int | None,
    sender: Sender,
    client: TelemetryClient,
    report: SendReport,
    expected: UUID | None,
) -> None:
    """Read, track and deliver the lines of ``handle`` under a progress bar (stderr, terminals only)."""
    with ui.progress(
        TextColumn("sending"),
        BarColumn(bar_width=32),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    ) as progress:
        task = progress.add_task("sending", total=size, note="")

        def advance(count: int) -> None:
            progress.advance(task, count)

        def bad(number: int, problem: str) -> None:
            ui.problem(f"line {number}: {problem}")

        for number, event in read_events(_measured(handle, advance), report, instance_id=expected, on_bad=bad):
            if not sender.track(event):
                report.stopped_at = number
                break
            report.tracked += 1
            if number % PROGRESS_EVERY == 0:
                progress.update(task, note=_note(report, client.stats))
        sender.finish()
        progress.update(task, note=_note(report, client.stats))


def _note(report: SendReport, stats: ClientStats) -> str:
    return f"{report.lines:,} lines, {stats.sent:,} sent, {report.invalid:,} bad"


def _document(
    file: str, report: SendReport, stats: ClientStats, stopped: str | None, failures: list[TelemetryError]
) -> dict[str, Any]:
    """The outcome as ``--json`` prints it (and as the table shows it)."""
    unsent = stats.queued + stats.in_flight
    ok = not (report.invalid or stats.rejected or stats.dropped_total or unsent or stopped)
    document: dict[str, Any] = {
        "file": file,
        "ok": ok,
        "lines": report.lines,
        "blank": report.blank,
        "invalid": report.invalid,
        "tracked": stats.tracked,
        "sent": stats.sent,
        "new": stats.sent - stats.duplicates,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "dropped": dict(stats.dropped),
        "unsent": unsent,
        "retried": stats.retried,
        "failed_batches": stats.failed_batches,
        "stopped": stopped,
        "stopped_at_line": report.stopped_at,
        "errors": [{"line": bad.line, "reason": bad.reason} for bad in report.bad],
        "errors_omitted": report.bad_omitted,
        "failures": [str(error) for error in failures],
    }
    document["summary"] = _headline(document)
    return document


def _headline(document: dict[str, Any]) -> str:
    """One sentence saying what happened, first what matters most."""
    file, sent, new, tracked = document["file"], document["sent"], document["new"], document["tracked"]
    bad = document["invalid"]
    if document["stopped"]:
        line = document["stopped_at_line"] or document["lines"]
        return f"Stopped at line {line:,}: {sent:,} of {_count(tracked, 'event')} of {file} sent"
    if not tracked:
        return f"Nothing sent: {file} has no valid events" + (f" ({_count(bad, 'bad line')})" if bad else "")
    if sent < tracked:
        return f"Not everything was sent: {sent:,} of {_count(tracked, 'event')} of {file}"
    skipped = f"; {_count(bad, 'bad line')} skipped" if bad else ""
    if not new:
        return f"Nothing new: the server already held all {_count(sent, 'event')} of {file}{skipped}"
    held = f", {document['duplicates']:,} it already held" if document["duplicates"] else ""
    return f"Sent {file}: {_count(new, 'new event')} stored{held}{skipped}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _print(ui: Ui, document: dict[str, Any]) -> None:
    dropped = document["dropped"]
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in sorted(dropped.items()))
    rows = {
        "lines read": f"{document['lines']:,}" + (f" ({document['blank']:,} blank)" if document["blank"] else ""),
        "bad lines": f"{document['invalid']:,}" + (" (reported on stderr, skipped)" if document["invalid"] else ""),
        "sent": f"{document['sent']:,}",
        "new": f"{document['new']:,} (stored now)",
        "already stored": f"{document['duplicates']:,} (sent before: the server answered duplicate)",
        "rejected": f"{document['rejected']:,}" + (" (-v shows the server's reasons)" if document["rejected"] else ""),
        "dropped": f"{sum(dropped.values()):,}" + (f" ({reasons})" if reasons else ""),
        "not sent": f"{document['unsent']:,}",
        "retried": f"{document['retried']:,} requests",
    }
    if document["failures"] and not document["ok"]:
        rows["last error"] = document["failures"][-1]
    ui.out.print(document["summary"], markup=False, highlight=False, soft_wrap=True)
    ui.out.print(key_values(rows))
    if document["stopped"]:
        ui.problem(f"stopped at line {document['stopped_at_line'] or document['lines']}: {document['stopped']}")
    elif not document["ok"]:
        ui.problem("not everything was sent (exit status 1)")
