"""``serve``: the reference server in the foreground — announce, accept events, stop on SIGINT/SIGTERM with exit 0."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from uvicorn.supervisors import Multiprocess

from mosaicstack_telemetry import TaskCompletionEvent, TelemetryClient, TelemetryConfig
from mosaicstack_telemetry.cli import serve as serve_module
from mosaicstack_telemetry.cli.app import cli
from mosaicstack_telemetry.cli.listening import local_url
from mosaicstack_telemetry.cli.workload import simulate
from mosaicstack_telemetry.server import PREDICTION_MAX_AGE_SECONDS, create_app
from mosaicstack_telemetry.server.backends import ENV_DATABASE_URL
from mosaicstack_telemetry.server.postgres import PostgresStorage
from mosaicstack_telemetry.server.storage import SQLiteStorage
from mosaicstack_telemetry.server.workers import ENV_WORKER_SETTINGS, worker_app

from ._support import DEADLINE, clean_env, command, invoke, parse_json, run_cli

_URL = re.compile(r"http://127\.0\.0\.1:\d+")


class _Serving:
    """``mosaic-telemetry serve`` as a child process; its stdout is read by a thread, line by line, so a test can
    wait for a line with a deadline (select() on the pipe would miss lines already in Python's buffer)."""

    def __init__(self, *args: str, verbose: bool = False, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command(*(["-v"] if verbose else []), "serve", "--port", "0", *args),
            env=clean_env(**(env or {})),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.url: str | None = None  # from the announcement
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = _URL.search(line)
            if found and self.url is None:
                self.url = found.group(0)
            self._lines.put(line)

    def line(self, timeout: float = 20.0) -> str:
        """The next line on stdout, or fail (never wait forever)."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"serve printed nothing in {timeout} s")

    def until(self, prefix: str) -> list[str]:
        """Lines up to and including the first one starting with ``prefix``."""
        lines = [self.line()]
        while not lines[-1].startswith(prefix):
            lines.append(self.line())
        return lines

    def wait_until_serving(self, timeout: float = 15.0) -> None:
        """Until the announced URL answers: the announcement comes just before uvicorn installs its signal
        handlers, and a signal sent in between would race them (what these tests check is the served stop)."""
        deadline = time.monotonic() + timeout
        while self.url is not None and time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.02)
            else:
                return

    def stop(self, signum: int) -> tuple[int, str]:
        """Once serving, send ``signum``; the exit code and stderr, within 15 s."""
        self.wait_until_serving()
        self.process.send_signal(signum)
        self.process.wait(timeout=15)
        self._reader.join(timeout=5)
        assert self.process.stderr is not None
        return self.process.returncode, self.process.stderr.read()


@contextmanager
def _serving(*args: str, verbose: bool = False, env: dict[str, str] | None = None) -> Iterator[_Serving]:
    """A serving child process, killed if the test leaves it running."""
    serving = _Serving(*args, verbose=verbose, env=env)
    try:
        yield serving
    finally:
        if serving.process.poll() is None:
            serving.process.kill()
        serving.process.wait(timeout=DEADLINE)
        for stream in (serving.process.stdout, serving.process.stderr):
            if stream is not None:
                stream.close()


def test_serve_accepts_events_and_stops_on_sigint(tmp_path: Path) -> None:
    """--json announces url, dashboard, key and instance on one line; the server stores a batch posted with that key; SIGINT
    ends it with exit 0; the events are in the database file."""
    db = tmp_path / "server.db"
    with _serving("--db", str(db), "--json") as serving:
        announced: dict[str, Any] = parse_json(serving.line())
        assert announced["url"].startswith("http://127.0.0.1:")
        assert announced["reused_key"] is False
        events = simulate(5, seed=1, instance_id=announced["instance_id"])
        body = {"events": [event.model_dump(mode="json") for event in events]}
        headers = {"Authorization": f"Bearer {announced['api_key']}"}
        with httpx.Client(base_url=announced["url"], timeout=10) as http:
            assert 200 == http.get("/healthz").status_code
            assert announced["dashboard"] == f"{announced['url']}/dashboard"
            assert "text/html" in http.get(announced["dashboard"]).headers["content-type"]
            reply = http.post("/v1/events/batch", json=body, headers=headers)
        assert 200 == reply.status_code
        assert 5 == reply.json()["accepted"]
        code, stderr = serving.stop(signal.SIGINT)
    assert 0 == code
    assert "Stopped." in stderr
    assert "Traceback" not in stderr
    with SQLiteStorage(db) as storage:
        assert 5 == storage.count_events()


def test_restart_reuses_a_named_key_and_stops_on_sigterm(tmp_path: Path) -> None:
    """--api-key of an earlier start: the same key and instance again (the exported variables stay valid)."""
    db = tmp_path / "server.db"
    with _serving("--db", str(db), "--json") as first:
        announced = parse_json(first.line())
        assert 0 == first.stop(signal.SIGINT)[0]
    with _serving("--db", str(db), "--json", "--api-key", announced["api_key"]) as second:
        again = parse_json(second.line())
        code, _ = second.stop(signal.SIGTERM)
    assert (announced["api_key"], announced["instance_id"], True) == (
        again["api_key"],
        again["instance_id"],
        again["reused_key"],
    )
    assert 0 == code


def test_banner_shows_what_to_export(tmp_path: Path) -> None:
    """Without --json: the URL, the dashboard's, the key, the instance and the export lines, without colour (not a terminal)."""
    with _serving("--db", str(tmp_path / "server.db")) as serving:
        lines = serving.until("export MOSAIC_TELEMETRY_INSTANCE_ID=")
        code, stderr = serving.stop(signal.SIGINT)
    text = "".join(lines)
    assert "Mosaic Telemetry reference server" in text
    assert re.search(r"dashboard +http://127\.0\.0\.1:\d+/dashboard \(paste the api key when it asks\)", text)
    assert "export MOSAIC_TELEMETRY_SERVER_URL=http://127.0.0.1:" in text
    assert "export MOSAIC_TELEMETRY_API_KEY=" in text
    assert "export MOSAIC_TELEMETRY_INSTANCE_ID=" in text
    assert "\x1b[" not in text
    assert stderr.endswith("Stopped.\n")
    assert 0 == code


def test_a_port_in_use_is_exit_1(tmp_path: Path) -> None:
    """Another process listens on the port: exit 1 with the reason."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port), "--db", str(tmp_path / "server.db"))
    assert 1 == done.returncode
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's code in this process, uvicorn replaced by an immediate Ctrl-C; and its usage errors."""
    runs: list[float] = []

    def interrupted(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        runs.append(time.monotonic())
        raise KeyboardInterrupt

    monkeypatch.setattr(uvicorn.Server, "run", interrupted)
    db = tmp_path / "server.db"
    banner = invoke("serve", "--port", "0", "--db", str(db))
    assert 0 == banner.exit_code, banner.stderr
    assert "export MOSAIC_TELEMETRY_API_KEY=" in banner.stdout
    announced = parse_json(invoke("serve", "--port", "0", "--db", str(db), "--json").stdout)
    other = str(uuid4())
    mismatch = invoke(
        "serve", "--port", "0", "--db", str(db), "--api-key", announced["api_key"], "--instance-id", other
    )
    assert 2 == mismatch.exit_code
    assert "belongs to instance" in mismatch.stderr
    malformed = invoke("serve", "--api-key", "xyz")
    assert 2 == malformed.exit_code
    assert "64 hexadecimal characters" in malformed.stderr
    new_key = invoke("serve", "--port", "0", "--db", str(db), "--api-key", "d" * 64, "--json")
    assert parse_json(new_key.stdout)["reused_key"] is False
    assert 3 == len(runs)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:80"),
        ("0.0.0.0", "http://127.0.0.1:80"),  # noqa: S104 - a host name, not a bind
        ("::", "http://[::1]:80"),
        ("::1", "http://[::1]:80"),
    ],
)
def test_url_for_a_client_on_this_machine(host: str, url: str) -> None:
    """A wildcard address is announced as loopback: the URL must be one a client can use."""
    assert url == local_url(host, 80)


def test_api_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--api-key-file announces the key it holds (whitespace around it ignored); a bad file is a usage error that
    never shows the file's content; it cannot be combined with --api-key."""
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    db = tmp_path / "server.db"
    key_file = tmp_path / "key"
    key_file.write_text("  " + "C" * 64 + "\n")
    announced = parse_json(
        invoke("serve", "--port", "0", "--db", str(db), "--api-key-file", str(key_file), "--json").stdout
    )
    assert "c" * 64 == announced["api_key"]
    key_file.write_text("not-a-key-but-a-secret")
    bad = invoke("serve", "--port", "0", "--db", str(db), "--api-key-file", str(key_file))
    assert 2 == bad.exit_code
    assert "must hold 64 hexadecimal characters" in bad.stderr
    assert "not-a-key-but-a-secret" not in bad.stderr
    missing = invoke("serve", "--port", "0", "--db", str(db), "--api-key-file", str(tmp_path / "nope"))
    assert 2 == missing.exit_code
    assert "cannot read" in missing.stderr
    both = invoke("serve", "--db", str(db), "--api-key", "d" * 64, "--api-key-file", str(key_file))
    assert 2 == both.exit_code
    assert "exclusive" in both.stderr


def test_access_log_has_no_query_strings(tmp_path: Path) -> None:
    """-v logs every request, with the query string replaced by [redacted]."""
    with _serving("--db", str(tmp_path / "server.db"), "--json", verbose=True) as serving:
        announced = parse_json(serving.line())
        with httpx.Client(base_url=announced["url"], timeout=10) as http:
            assert 200 == http.get("/healthz", params={"api_key": "secret-in-a-url"}).status_code
        code, stderr = serving.stop(signal.SIGINT)
    assert 0 == code
    assert "GET /healthz?[redacted] HTTP/1.1" in stderr
    assert "secret-in-a-url" not in stderr


def test_a_revoked_key_is_not_announced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--api-key naming a revoked key: a usage error, not a banner with a key the server refuses."""
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    db = tmp_path / "server.db"
    announced = parse_json(invoke("serve", "--port", "0", "--db", str(db), "--json").stdout)
    assert 0 == invoke("keys", "revoke", announced["instance_id"], "--db", str(db)).exit_code
    again = invoke("serve", "--port", "0", "--db", str(db), "--api-key", announced["api_key"])
    assert 2 == again.exit_code
    assert "this key is revoked" in again.stderr


def test_prediction_max_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--prediction-max-age reaches the app (default: the documented bound); a negative one is a usage error."""
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    seen: list[float] = []
    real = create_app

    def spy(storage: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["prediction_max_age_seconds"])
        return real(storage, **kwargs)

    monkeypatch.setattr(serve_module, "create_app", spy)
    db = str(tmp_path / "server.db")
    assert 0 == invoke("serve", "--port", "0", "--db", db).exit_code
    assert 0 == invoke("serve", "--port", "0", "--db", db, "--prediction-max-age", "0").exit_code
    assert [PREDICTION_MAX_AGE_SECONDS, 0.0] == seen
    assert 2 == invoke("serve", "--db", db, "--prediction-max-age", "-1").exit_code


# -- PostgreSQL and workers -------------------------------------------------------------------------------------------


def _workers(pid: int) -> list[int]:
    """The worker processes ``pid`` spawned (Linux /proc: children running multiprocessing's spawn_main)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                if parent == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie waiting for its reaper is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_need_postgresql(tmp_path: Path) -> None:
    refused = invoke("serve", "--port", "0", "--db", str(tmp_path / "server.db"), "--workers", "2")
    assert 2 == refused.exit_code
    assert "--workers 2 needs PostgreSQL" in refused.stderr
    assert not (tmp_path / "server.db").exists()
    a_url = invoke("serve", "--port", "0", "--db", "postgresql://u:hunter2@db/t")
    assert 2 == a_url.exit_code
    assert "give a database URL with --database-url" in a_url.stderr


@pytest.mark.parametrize("source", ["option", "environment"])
def test_serve_refuses_a_database_url_without_a_known_scheme(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A libpq keyword string as the database URL is a usage error before anything binds or opens: it names the
    option or variable and the accepted schemes, never the value, and creates no SQLite file named with it."""
    monkeypatch.chdir(tmp_path)
    url = "host=db password=hunter2 dbname=t"
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("MOSAIC_TELEMETRY_")}
    args = ["serve", "--port", "0"]
    if source == "option":
        args += ["--database-url", url]
    else:
        env[ENV_DATABASE_URL] = url
    refused = CliRunner(env=env).invoke(cli, args, catch_exceptions=False, prog_name="mosaic-telemetry")
    output = refused.stdout + refused.stderr
    assert 2 == refused.exit_code, output
    assert ("--database-url" if source == "option" else ENV_DATABASE_URL) in output
    assert "postgresql://" in output
    assert "hunter2" not in output
    assert [] == list(tmp_path.iterdir())


def test_two_workers_on_postgresql_store_every_event_once(postgres_url: str) -> None:
    """serve --workers 2 on PostgreSQL, the URL (with a password) in MOSAIC_TELEMETRY_DATABASE_URL: two worker
    processes; batches posted twice each, at once from several threads, and the SDK's own traffic beside them: every
    event stored once and reported accepted exactly once; the banner masks the password; SIGTERM stops all, exit 0."""
    url = postgres_url.replace("mosaic@", "mosaic:hunter2@", 1)
    with _serving("--json", "--workers", "2", env={"MOSAIC_TELEMETRY_DATABASE_URL": url}) as serving:
        announced: dict[str, Any] = parse_json(serving.line())
        assert "hunter2" not in json.dumps(announced)
        assert announced["db"] == postgres_url.replace("mosaic@", "mosaic:***@", 1)
        serving.wait_until_serving()
        deadline = time.monotonic() + 20
        while len(_workers(serving.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _workers(serving.process.pid)
        assert 2 == len(workers)

        events = simulate(1_200, seed=3, instance_id=announced["instance_id"])
        batches = [events[start : start + 50] for start in range(0, 1_200, 25)]  # each event in two batches
        headers = {"Authorization": f"Bearer {announced['api_key']}"}
        accepted: list[int] = []

        def post(mine: list[list[TaskCompletionEvent]]) -> None:
            with httpx.Client(base_url=announced["url"], headers=headers, timeout=30) as http:
                for batch in mine:
                    body = {"events": [event.model_dump(mode="json") for event in batch]}
                    reply = http.post("/v1/events/batch", json=body)
                    assert 200 == reply.status_code, reply.text
                    accepted.append(reply.json()["accepted"])

        posters = [threading.Thread(target=post, args=(batches[index::6],)) for index in range(6)]
        sdk_events = simulate(500, seed=4, instance_id=announced["instance_id"])
        config = TelemetryConfig(
            server_url=announced["url"], api_key=announced["api_key"], instance_id=announced["instance_id"]
        )
        for thread in posters:
            thread.start()
        with TelemetryClient(config) as client:
            for event in sdk_events:
                client.track(event)
        for thread in posters:
            thread.join(DEADLINE)
        assert 500 == client.stats.sent
        assert 1_200 == sum(accepted)
        code, stderr = serving.stop(signal.SIGTERM)
    assert 0 == code
    assert "Traceback" not in stderr
    assert "hunter2" not in stderr
    assert [] == [pid for pid in workers if _running(pid)]
    with PostgresStorage(postgres_url) as storage:
        assert 1_700 == storage.count_events()
        assert all(storage.fetch_event(event.instance_id, event.event_id) == event for event in events[::97])


def test_workers_in_process(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's worker path in this process, uvicorn's supervisor replaced by one that records its config; then
    what each worker process runs, worker_app, here: it opens the database the parent handed down."""
    supervised: list[uvicorn.Config] = []

    def record(self: Multiprocess) -> None:
        supervised.append(self.config)

    monkeypatch.setattr(Multiprocess, "run", record)
    monkeypatch.setenv(ENV_DATABASE_URL, postgres_url)
    monkeypatch.delenv(ENV_WORKER_SETTINGS, raising=False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:  # the supervisor installs its signal handlers when made: this process's own come back after
        result = CliRunner().invoke(
            cli, ["serve", "--port", "0", "--workers", "3", "--prediction-max-age", "7", "--json"]
        )
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert 0 == result.exit_code, result.output
    [config] = supervised
    assert (3, True, "mosaicstack_telemetry.server.workers:worker_app") == (config.workers, config.factory, config.app)
    assert {"prediction_max_age_seconds": 7.0} == json.loads(os.environ[ENV_WORKER_SETTINGS])
    app = worker_app()
    try:
        assert isinstance(app.state.storage, PostgresStorage)
        assert 7.0 == app.state.predictor.max_age_seconds
        assert 1 == len(app.state.storage.list_keys())  # the key serve issued, in the shared database
    finally:
        app.state.storage.close()
