"""``serve -v``'s access log while the dashboard is used: every request is logged, the api key never is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.server import _stats_support as data

from .conftest import WIDE, Page

#: serve's key for the dataset's instance (another one than the session server's, which the file may hold already).
API_KEY = "e7" * 32

#: Every subprocess ends within this many seconds.
DEADLINE = 30.0


def test_the_access_log_never_shows_the_key(browser: Any, database: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY)
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOSAIC_TELEMETRY_")}
    env["COLUMNS"] = "400"  # one log record a line: a key cut by wrapping would hide from the check below
    log = tmp_path / "stderr.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "mosaicstack_telemetry.cli",
                "-v",  # the access log
                "serve",
                "--json",
                "--port",
                "0",
                "--db",
                str(database),
                "--api-key-file",
                str(key_file),
                "--instance-id",
                str(data.INSTANCE),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as serve,
    ):
        try:
            assert serve.stdout is not None
            banner = json.loads(serve.stdout.readline())
            context = browser.new_context(viewport=WIDE)
            try:
                dashboard = Page(context.new_page(), banner["url"])
                dashboard.open()
                dashboard.sign_in(API_KEY)
                dashboard.wait_ready()
                dashboard.change(lambda: dashboard.page.select_option("#f-task_type", "testing"))
                dashboard.change(lambda: dashboard.page.click("#next"))
            finally:
                context.close()
        finally:
            serve.send_signal(signal.SIGTERM)
            assert 0 == serve.wait(timeout=DEADLINE)
    logged = log.read_text()
    assert "GET /v1/stats/overview?[redacted]" in logged  # the access log is on (query strings redacted)
    assert "GET /dashboard" in logged
    for fragment in (API_KEY, API_KEY[:16], API_KEY[-16:], "Bearer"):
        assert fragment not in logged
