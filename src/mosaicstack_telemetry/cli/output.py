"""What the commands print: two consoles, progress bars, prediction and stats tables, JSON documents.

Results go to stdout, everything else — progress bars, narration, bad input lines, errors — to stderr, so
``mosaic-telemetry send f.jsonl --json > result.json`` captures the result alone. rich decides colour per stream:
none when the stream is not a terminal (or ``NO_COLOR`` is set); progress bars are drawn only when stderr is a
terminal. Output that is not a terminal is 132 columns wide unless ``COLUMNS`` says otherwise (rich's default of
80 would squeeze the tables). JSON is written with :func:`click.echo`, never through rich, which would wrap it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

import attrs
import click
from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..predictions import PredictionQuery, PredictionResponse
from ..stats import ClientStats

__all__ = [
    "Ui",
    "cost",
    "duration",
    "emit_json",
    "fallback_label",
    "percent",
    "prediction_details",
    "prediction_dict",
    "predictions_table",
    "stats_dict",
    "stats_table",
    "tokens",
]

#: Width of output that is not a terminal, when ``COLUMNS`` is unset: a wide terminal (the predictions table needs ~122).
PIPE_WIDTH = 132


def _console(stream: TextIO, *, stderr: bool) -> Console:
    width = None if stream.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


@attrs.define
class Ui:
    """The two consoles of one invocation: ``out`` (results) and ``err`` (progress, narration, problems)."""

    out: Console
    err: Console
    #: how many ``-v`` were given
    verbose: int = 0

    @classmethod
    def create(cls, verbose: int = 0) -> Ui:
        return cls(out=_console(sys.stdout, stderr=False), err=_console(sys.stderr, stderr=True), verbose=verbose)

    def show_log(self, level: int, names: Iterable[str]) -> Callable[[], None]:
        """Show the records of the loggers ``names`` from ``level`` up on stderr; returns the undo.

        Through rich, on the stderr console, so a log line does not tear a progress bar.
        """
        handler = RichHandler(console=self.err, show_path=False, markup=False, rich_tracebacks=False, level=level)
        changed = []
        for name in names:
            logger = logging.getLogger(name)
            changed.append((logger, logger.level))
            logger.addHandler(handler)
            if logger.getEffectiveLevel() > level:
                logger.setLevel(level)

        def undo() -> None:
            for logger, previous in changed:
                logger.removeHandler(handler)
                logger.setLevel(previous)

        return undo

    @property
    def live(self) -> bool:
        """Whether progress bars are shown (stderr is a terminal)."""
        return self.err.is_terminal

    def progress(self, *columns: str | ProgressColumn) -> Progress:
        """A progress display on stderr; disabled (its updates are no-ops) when stderr is not a terminal."""
        shown = columns or (
            TextColumn("{task.description:<18}"),
            BarColumn(bar_width=32),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
        )
        return Progress(*shown, console=self.err, disable=not self.live, refresh_per_second=8)

    def problem(self, message: str) -> None:
        """One line on stderr, verbatim (never markup: it may quote user input) and never broken into several."""
        self.err.print(message, markup=False, highlight=False, style="yellow", soft_wrap=True)


def emit_json(document: Any, *, indent: int | None = 2) -> None:
    """The one JSON document of a ``--json`` run, on stdout (``indent=None``: on one line)."""
    click.echo(json.dumps(document, indent=indent))


# -- numbers for people -----------------------------------------------------------------------------------------------


def tokens(count: int) -> str:
    """``820``, ``5.2k``, ``14k``, ``1.3M``: token counts at a glance."""
    if count < 1_000:
        return str(count)
    if count < 9_950:  # from here on one decimal would round to "10.0k"
        return f"{count / 1_000:.1f}k"
    if count < 999_500:
        return f"{count / 1_000:.0f}k"
    return f"{count / 1_000_000:.1f}M"


def cost(micros: int) -> str:
    """Microdollars as dollars with the digits that matter: ``$0``, ``$0.0042``, ``$0.051``, ``$1.23``."""
    dollars = micros / 1_000_000
    if micros == 0:
        return "$0"
    if dollars < 0.01:
        return f"${dollars:.4f}"
    if dollars < 1:
        return f"${dollars:.3f}"
    return f"${dollars:,.2f}"


def duration(milliseconds: int) -> str:
    """``850 ms``, ``42 s``, ``3m05s``, ``1h02m`` (compact: the predictions table is tight)."""
    if milliseconds < 1_000:
        return f"{milliseconds} ms"
    seconds = round(milliseconds / 1_000)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def percent(rate: float) -> str:
    return f"{rate:.0%}"


_FALLBACK_LABELS = {0: "exact", 1: "any cplx", 2: "any model", 3: "task only", -1: "no data"}


def fallback_label(level: int) -> str:
    """The prediction's fallback level in words: which dimensions it had to give up to find enough events."""
    return _FALLBACK_LABELS.get(level, f"level {level}")


_DATE_SUFFIX = re.compile(r"-\d{8}$")


def short_model(model: str) -> str:
    """``claude-sonnet-4-20250514`` → ``claude-sonnet-4``: the release date makes the table too wide (JSON keeps it)."""
    return _DATE_SUFFIX.sub("", model)


# -- predictions ------------------------------------------------------------------------------------------------------


def predictions_table(
    rows: Iterable[tuple[PredictionQuery, PredictionResponse | None]],
    *,
    title: str | None = None,
    rare: Iterable[tuple[PredictionQuery, PredictionResponse | None]] = (),
) -> Table:
    """One row per combination: tokens (median/p90), median cost and duration, rates, confidence, fallback.

    ``rare`` rows follow in a section of their own: combinations with few events, answered by a fallback. Laid out
    to be narrow: two-line headers, and confidence shares a column with the fallback (only a "low" answer can have
    one); it takes about 122 columns.
    """
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
    )
    table.add_column("task")
    table.add_column("model")
    table.add_column("complexity")
    table.add_column("n", justify="right")
    table.add_column("in tokens\np50/p90", justify="right")
    table.add_column("out tokens\np50/p90", justify="right")
    table.add_column("cost\np50", justify="right")
    table.add_column("time\np50", justify="right")
    table.add_column("success", justify="right")
    table.add_column("gates\nok", justify="right")
    table.add_column("confidence\n(fallback)")
    for index, section in enumerate((list(rows), list(rare))):
        if index and section:
            table.add_section()
        for query, response in section:
            table.add_row(*_prediction_cells(query, response))
    return table


def _prediction_cells(query: PredictionQuery, response: PredictionResponse | None) -> list[str]:
    head = [query.task_type.value, short_model(query.model), query.complexity.value]
    if response is None:
        return [*head, "-", "not fetched", *[""] * 6]
    meta, data = response.metadata, response.prediction
    basis = meta.confidence if meta.fallback_level == 0 else f"{meta.confidence}, {fallback_label(meta.fallback_level)}"
    if data is None:
        return [*head, "0", *["-"] * 6, basis]
    return [
        *head,
        str(meta.sample_size),
        f"{tokens(data.input_tokens.median)}/{tokens(data.input_tokens.p90)}",
        f"{tokens(data.output_tokens.median)}/{tokens(data.output_tokens.p90)}",
        cost(data.cost_usd_micros.get("median", 0)),
        duration(data.duration_ms.get("median", 0)),
        percent(data.quality.success_rate),
        percent(data.quality.gate_pass_rate),
        basis,
    ]


def prediction_details(query: PredictionQuery, response: PredictionResponse) -> Table:
    """Everything about one prediction, one line per item (``predict``)."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    meta, data = response.metadata, response.prediction
    table.add_row(
        "combination", f"{query.task_type.value} / {query.model} / {query.provider.value} / {query.complexity.value}"
    )
    table.add_row("based on", f"{meta.sample_size} events, fallback: {fallback_label(meta.fallback_level)}")
    table.add_row("confidence", meta.confidence)
    if meta.fallback_note:
        table.add_row("note", meta.fallback_note)
    if data is None:
        table.add_row("prediction", "none: the server has no events for this task type")
        return table
    for name, distribution in (("input tokens", data.input_tokens), ("output tokens", data.output_tokens)):
        table.add_row(
            name,
            f"median {distribution.median:,}  p90 {distribution.p90:,}"
            f"  (p10 {distribution.p10:,}, p25 {distribution.p25:,}, p75 {distribution.p75:,})",
        )
    table.add_row("cost", f"median {cost(data.cost_usd_micros.get('median', 0))}")
    table.add_row("duration", f"median {duration(data.duration_ms.get('median', 0))}")
    table.add_row("success rate", percent(data.quality.success_rate))
    table.add_row("gate pass rate", percent(data.quality.gate_pass_rate))
    factors = data.correction_factors
    table.add_row("correction", f"actual/estimated tokens: input x{factors.input:.2f}, output x{factors.output:.2f}")
    if meta.last_updated is not None:
        table.add_row("computed", meta.last_updated.isoformat(timespec="seconds"))
    return table


def prediction_dict(query: PredictionQuery, response: PredictionResponse | None) -> dict[str, Any]:
    """A query and its answer as JSON types (the wire format's field names)."""
    return {
        "query": query.model_dump(mode="json"),
        "response": None if response is None else response.model_dump(mode="json"),
    }


# -- client stats -----------------------------------------------------------------------------------------------------


def stats_table(stats: ClientStats, *, title: str = "Client stats") -> Table:
    """The client's counters, each with what it means, and whether every tracked event is accounted for."""
    table = Table(title=title, box=None, show_header=False, title_justify="left", pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    dropped = ", ".join(f"{reason} {count:,}" for reason, count in stats.dropped.items()) or "none"
    table.add_row("tracked", f"{stats.tracked:,}", "events given to track()")
    table.add_row("sent", f"{stats.sent:,}", "delivered (a duplicate after a cut reply counts as delivered)")
    table.add_row("rejected", f"{stats.rejected:,}", "refused by the server, event by event")
    table.add_row("dropped", f"{stats.dropped_total:,}", dropped)
    table.add_row("retried", f"{stats.retried:,}", "attempts that repeated a failed request")
    table.add_row("failed batches", f"{stats.failed_batches:,}", "send cycles that failed every attempt")
    table.add_row("queued / in flight", f"{stats.queued:,} / {stats.in_flight:,}", "not settled yet")
    table.add_row(
        "predictions",
        f"{stats.predictions_fetched:,}",
        f"fetched ({stats.prediction_failures:,} failed requests)",
    )
    balanced = "yes" if stats.balanced else "NO"
    table.add_row("accounted for", balanced, "tracked = sent + rejected + dropped + queued + in flight")
    return table


def stats_dict(stats: ClientStats) -> dict[str, Any]:
    """The client's counters as JSON types."""
    return {
        "tracked": stats.tracked,
        "sent": stats.sent,
        "rejected": stats.rejected,
        "dropped": dict(stats.dropped),
        "retried": stats.retried,
        "failed_batches": stats.failed_batches,
        "queued": stats.queued,
        "in_flight": stats.in_flight,
        "predictions_fetched": stats.predictions_fetched,
        "prediction_failures": stats.prediction_failures,
        "balanced": stats.balanced,
    }


def key_values(pairs: Mapping[str, str], *, title: str | None = None) -> Table:
    """A borderless two-column list (the ``serve`` banner, ``keys create``)."""
    table = Table(title=title, box=None, show_header=False, title_justify="left", pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in pairs.items():
        table.add_row(name, value)
    return table
