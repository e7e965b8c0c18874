"""``demo``: the main job end to end, under each backend — server, workload, faults, retries, predictions, stats."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import httpx
import pytest

from mosaicstack_telemetry import PredictionQuery
from mosaicstack_telemetry.cli import demo as demo_module
from mosaicstack_telemetry.cli.drive import Run, backend_available
from mosaicstack_telemetry.cli.drive import drive as real_drive
from mosaicstack_telemetry.server import SQLiteStorage
from mosaicstack_telemetry.server.keys import hash_key

from ._support import DEADLINE, clean_env, command, invoke, parse_json, run_cli

SMALL = ["--events", "150", "--duration", "0.6", "--seed", "3"]


@pytest.mark.parametrize("backend", ["asyncio", "trio", "sync"])
def test_demo_in_a_subprocess(backend: str) -> None:
    """Every event delivered despite the injected faults, which the retries show; predictions for every
    combination used; the accounting balances; exit 0 — under each backend."""
    done = run_cli("demo", *SMALL, "--backend", backend, "--json")
    assert 0 == done.returncode, done.stderr
    report: dict[str, Any] = parse_json(done.stdout)
    stats = report["stats"]
    assert (150, 150, 0, {}, True) == (
        stats["tracked"],
        stats["sent"],
        stats["rejected"],
        stats["dropped"],
        stats["balanced"],
    )
    assert stats["retried"] >= 1
    assert 150 == report["server"]["events_stored"]
    assert 3 == len(report["faults"])
    assert all(entry["response"] is not None for entry in report["predictions"])
    assert 150 == sum(entry["events"] for entry in report["predictions"])
    assert "Delivered 150 of 150 events" in done.stderr


def test_demo_text_output() -> None:
    """The human output: the predictions table, the client's stats; narration on stderr; no colour in a pipe."""
    done = run_cli("demo", *SMALL, "--no-faults", "--top", "6")
    assert 0 == done.returncode, done.stderr
    assert "Predictions (6 of" in done.stdout
    assert "the last 1 are rare ones, answered by a fallback" in done.stdout
    for header in ("in tokens", "out tokens", "cost", "success", "confidence"):
        assert header in done.stdout
    assert "Client stats" in done.stdout
    assert "Reference server: http://127.0.0.1:" in done.stderr
    assert "\x1b[" not in done.stdout + done.stderr


def test_same_seed_same_table() -> None:
    """Under --seed the workload, hence the table of predictions, is the same run after run."""
    first = run_cli("demo", *SMALL, "--no-faults", "--duration", "0")
    second = run_cli("demo", *SMALL, "--no-faults", "--duration", "0")
    assert 0 == first.returncode, first.stderr
    table = first.stdout.split("Client stats")[0]
    assert table == second.stdout.split("Client stats")[0]


def test_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's code in this process: the sync backend with faults; every row; JSON."""
    shown = invoke("demo", "--events", "80", "--duration", "0.3", "--backend", "sync", "--top", "0")
    assert 0 == shown.exit_code, shown.stderr
    assert "fault at 15%" in shown.stderr
    assert "most used first)" in shown.stdout
    document = parse_json(invoke("demo", "--events", "40", "--duration", "0", "--no-faults", "--json").stdout)
    assert 40 == document["stats"]["sent"]


def test_in_process_failure_and_missing_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 1 when not everything arrived; exit 2 (usage) when the chosen backend is not installed."""

    def short(*args: Any, **kwargs: Any) -> Run:
        run = real_drive(*args, **kwargs)
        return Run(stats=run.stats, predictions={}, seconds=run.seconds)

    monkeypatch.setattr(demo_module, "drive", short)
    failed = invoke("demo", "--events", "20", "--duration", "0", "--no-faults")
    assert 1 == failed.exit_code
    assert "not fetched" in failed.stdout
    monkeypatch.setattr(demo_module, "backend_available", lambda backend: False)
    missing = invoke("demo", "--backend", "trio")
    assert 2 == missing.exit_code
    assert "trio is not installed" in missing.stderr


def test_table_rows() -> None:
    """Up to --top rows: the most used, then a quarter (at most 3) of the rarest; all when they fit or --top 0."""
    queries = [
        PredictionQuery(task_type="testing", model=f"m{index}", provider="openai", complexity="low")
        for index in range(20)
    ]
    counts = Counter({query: 100 - index for index, query in enumerate(queries)})
    common, rare = demo_module._table_rows(counts, 8)
    assert (queries[:6], queries[-2:]) == (common, rare)
    assert (queries, []) == demo_module._table_rows(counts, 0)
    assert (queries[:3], []) == demo_module._table_rows(counts, 3)
    assert backend_available("sync")


def test_db_keeps_each_runs_events_as_an_instance_of_its_own(tmp_path: Path) -> None:
    """--db: the events stay in the file after the run; a second run adds its own instance; the line printed at the
    end names the instance and the key that shows it again."""
    path = tmp_path / "kept.sqlite3"
    runs = [invoke("demo", "--events", "30", "--duration", "0", "--no-faults", "--json", "--db", str(path))]
    runs.append(invoke("demo", "--events", "20", "--duration", "0", "--no-faults", "--json", "--db", str(path)))
    assert [0, 0] == [run.exit_code for run in runs]
    assert [30, 20] == [parse_json(run.stdout)["server"]["events_stored"] for run in runs]  # each run its own
    with SQLiteStorage(path) as storage:
        assert 50 == storage.count_events()
        key = re.search(r"--api-key ([0-9a-f]{64})", runs[1].stderr)
        instance = re.search(r"\(instance ([0-9a-f-]{36})\)", runs[1].stderr)
        assert key is not None
        assert instance is not None
        record = storage.find_key(hash_key(key[1]))
        assert record is not None
        assert (UUID(instance[1]), 20) == (record.instance_id, storage.count_events(record.instance_id))
    assert f"serve --db {path}" in runs[1].stderr


def test_keep_serving_leaves_the_dashboard_up_until_sigterm(tmp_path: Path) -> None:
    """--keep-serving: the URL of the dashboard and the key to paste on stderr; the read API shows the run's
    events; SIGTERM ends it with exit 0."""
    lines: queue.Queue[str] = queue.Queue()

    def read(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)

    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command("demo", "--events", "60", "--duration", "0", "--no-faults", "--keep-serving"),
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        reader = threading.Thread(target=read, args=(process.stderr,), daemon=True)
        reader.start()
        try:
            seen = _announced(
                lines,
                {
                    "url": r"^Dashboard: (http://127\.0\.0\.1:\d+)/dashboard$",
                    "key": r"^API key to paste: ([0-9a-f]{64})$",
                },
            )
            page = httpx.get(seen["url"] + "/dashboard", timeout=10)
            overview = httpx.get(
                seen["url"] + "/v1/stats/overview", headers={"Authorization": f"Bearer {seen['key']}"}, timeout=10
            )
            assert (200, 200) == (page.status_code, overview.status_code)
            assert 60 == overview.json()["totals"]["events"]
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=DEADLINE)
            reader.join(DEADLINE)
    assert 0 == returncode


def _announced(lines: queue.Queue[str], patterns: dict[str, str]) -> dict[str, str]:
    """The first group of each pattern, from the lines as they come (within the deadline)."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + DEADLINE
    while len(seen) < len(patterns):
        line = lines.get(timeout=max(0.1, deadline - time.monotonic())).strip()
        for name, pattern in patterns.items():
            found = re.match(pattern, line)
            if found:
                seen[name] = found[1]
    return seen
