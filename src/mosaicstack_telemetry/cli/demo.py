"""``mosaic-telemetry demo``: the whole job in one command, on loopback, leaving nothing behind.

It starts the reference server on 127.0.0.1 and a free port with a temporary SQLite database, simulates a workload
(:mod:`.workload`), tracks it through a real client on the chosen backend (:mod:`.drive`) while the server
misbehaves a few times on purpose — so the summary shows retries, and that nothing was lost to them — then asks the
server for predictions for every combination the workload used, and prints them with the client's counters.

``--db PATH`` keeps the events in that SQLite file (each run is an instance of its own, with its own key, printed
so that ``serve --db PATH --api-key KEY`` shows the run again); ``--keep-serving`` leaves the server running at the
end, printing the dashboard's URL and the key to paste into it, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import shlex
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import click
from rich.progress import Progress, TaskID

from ..config import TelemetryConfig
from ..events import TaskCompletionEvent
from ..predictions import PredictionQuery, PredictionResponse
from ..server.dashboard import DASHBOARD_PATH
from ..server.faults import FaultPlan
from ..server.runner import ServerThread
from ..server.storage import SQLiteStorage
from ..stats import ClientStats
from .drive import BACKENDS, Backend, Run, backend_available, drive
from .listening import until_stopped
from .options import EXIT_CODES_HELP, EXIT_FAILURE, json_option
from .output import Ui, emit_json, prediction_dict, predictions_table, stats_dict, stats_table
from .workload import combinations, simulate

__all__ = ["DEMO_FAULTS", "demo"]


@attrs.frozen
class Fault:
    """A misbehaviour the demo's server starts once ``at`` (a fraction) of the workload has been tracked."""

    at: float
    note: str
    apply: Callable[[FaultPlan], None]


DEMO_FAULTS: tuple[Fault, ...] = (
    Fault(0.15, "the server answers the next 2 requests with HTTP 503", lambda plan: plan.fail_next(2, 503)),
    Fault(
        0.45,
        "the server answers the next request with HTTP 429, Retry-After: 1",
        lambda plan: plan.fail_next(1, 429, retry_after=1),
    ),
    Fault(
        0.7,
        "the server cuts its next reply half-way (it stored the events: the retry finds duplicates)",
        lambda plan: plan.drop_next(1),
    ),
)

#: Rare combinations shown at the bottom of the table (answered by a fallback), when not every row fits.
RARE_ROWS = 3


class _Display:
    """The live part: two progress bars (tracked, delivered) and the faults as they are injected."""

    def __init__(self, ui: Ui, progress: Progress, plan: FaultPlan, total: int, faults: Sequence[Fault]) -> None:
        self._ui = ui
        self._progress = progress
        self._plan = plan
        self._total = total
        self._pending = sorted(faults, key=lambda fault: fault.at)
        self.injected: list[str] = []
        self._tracked = progress.add_task("tasks completed", total=total, note="")
        self._sent: TaskID = progress.add_task("delivered", total=total, note="")

    def __call__(self, stats: ClientStats) -> None:
        while self._pending and stats.tracked >= self._pending[0].at * self._total:
            fault = self._pending.pop(0)
            fault.apply(self._plan)
            self.injected.append(fault.note)
            self._ui.err.print(f"  [bold magenta]fault[/] at {fault.at:.0%}: {fault.note}")
        self._progress.update(self._tracked, completed=stats.tracked)
        note = f"retried {stats.retried}" if stats.retried else ""
        if stats.queued or stats.in_flight:
            note += f"{', ' if note else ''}{stats.queued + stats.in_flight} waiting"
        self._progress.update(self._sent, completed=stats.sent + stats.rejected, note=note)


def _config(server: ServerThread, events: int) -> TelemetryConfig:
    config = TelemetryConfig(
        server_url=server.url,
        api_key=server.api_key,
        instance_id=str(server.instance_id),
        submit_interval_seconds=0.2,
        max_retries=3,
        request_timeout_seconds=5.0,
        shutdown_timeout_seconds=10.0,
        max_queue_size=max(1_000, events),  # the demo shows retries, not overflow (``send`` shows backpressure)
    )
    config.enabled = True  # the demo's own throwaway server: MOSAIC_TELEMETRY_ENABLED is about real servers
    return config


def _table_rows(counts: Counter[PredictionQuery], top: int) -> tuple[list[PredictionQuery], list[PredictionQuery]]:
    """The most used combinations, and a few of the rarest (to show the fallback) when not all rows fit."""
    ordered = [query for query, _ in counts.most_common()]
    if top <= 0 or len(ordered) <= top:
        return ordered, []
    rare = min(RARE_ROWS, top // 4)
    return ordered[: top - rare], ordered[len(ordered) - rare :] if rare else []


def _describe(events: Sequence[TaskCompletionEvent]) -> str:
    def distinct(name: str) -> int:
        return len({getattr(event, name) for event in events})

    return (
        f"{distinct('model')} models, {distinct('provider')} providers, {distinct('task_type')} task types,"
        f" {distinct('complexity')} complexities, {distinct('outcome')} outcomes"
    )


@click.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--events",
    "count",
    type=click.IntRange(1, 100_000),
    default=1_000,
    show_default=True,
    help="Task completions to simulate.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the workload (same seed, same events).")
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="asyncio",
    show_default=True,
    help="asyncio or trio: `async with client`; sync: `with client` (the client's own thread).",
)
@click.option(
    "--duration",
    type=click.FloatRange(0, 60),
    default=4.0,
    show_default=True,
    metavar="SECONDS",
    help="Spread the workload over this long (0: all at once).",
)
@click.option(
    "--faults/--no-faults",
    default=True,
    show_default=True,
    help="Make the server fail a few requests on purpose (503, 429, a cut reply).",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=15,
    show_default=True,
    help="Rows in the predictions table (0: every combination).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="PATH",
    help="Keep the events in this SQLite file (created if missing) instead of a temporary database.",
)
@click.option(
    "--keep-serving",
    is_flag=True,
    help="Leave the server running at the end, printing the dashboard's URL and the api key; Ctrl-C stops it.",
)
@json_option
@click.pass_obj
def demo(
    ui: Ui,
    *,
    count: int,
    seed: int,
    backend: Backend,
    duration: float,
    faults: bool,
    top: int,
    db_path: Path | None,
    keep_serving: bool,
    as_json: bool,
) -> None:
    """Run the reference server, send it a simulated workload, print predictions.

    Starts the server on 127.0.0.1 (a free port, a temporary database unless --db), tracks --events simulated task
    completions through the real client while the server fails a few requests, fetches predictions for every
    combination used, and prints them with the client's stats. Takes about --duration plus a second or two; with
    --keep-serving the server then stays up for the dashboard until Ctrl-C.
    """
    if not backend_available(backend):
        raise click.BadParameter(
            'trio is not installed: pip install "mosaicstack-telemetry[cli]" (from a checkout: pip install -e ".[cli]")',
            param_hint="--backend",
        )
    with contextlib.ExitStack() as stack:
        if db_path is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="mosaic-telemetry-demo-"))
            path, where = Path(directory) / "demo.sqlite3", "temporary SQLite database"
        else:
            path, where = db_path, f"SQLite database {str(db_path)!r}, kept"
        storage = stack.enter_context(SQLiteStorage(path))
        server = stack.enter_context(ServerThread(storage=storage))
        events = simulate(count, seed=seed, instance_id=server.instance_id)
        counts = combinations(events)
        ui.err.print(f"Reference server: [bold]{server.url}[/] ({where})")
        ui.err.print(f"Workload: {count:,} task completions (seed {seed}): {_describe(events)}")
        ui.err.print(f"Client: backend {backend}, batches of up to 100 every 0.2 s, up to 3 retries")
        with ui.progress() as progress:
            display = _Display(ui, progress, server.faults, count, DEMO_FAULTS if faults else ())
            config = _config(server, count)
            run = drive(config, events, list(counts), backend=backend, seconds=duration, on_tick=display)
        stored = storage.count_events(server.instance_id)  # this run's: a kept database holds earlier runs too
        requests = server.faults.statistics().requests
        fetched = sum(1 for response in run.predictions.values() if response is not None)
        ok = run.stats.sent == count and run.stats.balanced and fetched == len(counts)
        ui.err.print(
            f"Delivered {run.stats.sent:,} of {count:,} events in {run.seconds:.1f} s;"
            f" the server stored {stored:,}. Predictions fetched for {fetched:,} of {len(counts):,} combinations."
        )
        if as_json:
            emit_json(
                _document(run, counts, display.injected, backend=backend, seed=seed, stored=stored, requests=requests)
            )
        else:
            _print(ui, run, counts, top)
        if db_path is not None:
            ui.err.print(
                f"The events are kept in {str(db_path)!r} (instance {server.instance_id}); to see them again:"
                f" mosaic-telemetry serve --db {shlex.quote(str(db_path))} --api-key {server.api_key}",
                markup=False,
                soft_wrap=True,
            )
        if keep_serving:
            _keep_serving(ui, server)
    if not ok:
        raise SystemExit(EXIT_FAILURE)


def _keep_serving(ui: Ui, server: ServerThread) -> None:
    """Print where the dashboard is and the key to paste, then serve until Ctrl-C or SIGTERM."""
    server.faults.reset()  # the demo's misbehaviour is over
    ui.err.print(f"Dashboard: {server.url}{DASHBOARD_PATH}", markup=False, soft_wrap=True)
    ui.err.print(f"API key to paste: {server.api_key}", markup=False, soft_wrap=True)
    ui.err.print("Serving until Ctrl-C.", markup=False)
    with until_stopped():
        while True:
            time.sleep(3600)


def _print(ui: Ui, run: Run, counts: Counter[PredictionQuery], top: int) -> None:
    common, rare = _table_rows(counts, top)

    def rows(queries: Sequence[PredictionQuery]) -> list[tuple[PredictionQuery, PredictionResponse | None]]:
        return [(query, run.predictions.get(query)) for query in queries]

    shown = len(common) + len(rare)
    title = f"Predictions ({shown} of {len(counts)} combinations, most used first"
    title += f"; the last {len(rare)} are rare ones, answered by a fallback)" if rare else ")"
    ui.out.print(predictions_table(rows(common), rare=rows(rare), title=title))
    ui.out.print()
    ui.out.print(stats_table(run.stats))


def _document(
    run: Run,
    counts: Counter[PredictionQuery],
    faults: list[str],
    *,
    backend: str,
    seed: int,
    stored: int,
    requests: int,
) -> dict[str, Any]:
    return {
        "backend": backend,
        "seed": seed,
        "events": sum(counts.values()),
        "seconds": round(run.seconds, 3),
        "faults": faults,
        "server": {"events_stored": stored, "requests": requests},
        "stats": stats_dict(run.stats),
        "predictions": [
            {"events": used, **prediction_dict(query, run.predictions.get(query))}
            for query, used in counts.most_common()
        ],
    }
