"""The dashboard in a real browser: Playwright for Python driving Debian's headless Chromium (``nox -s browser``).

One reference server for these tests (the runner, 127.0.0.1, a free port) over a SQLite file holding the known
dataset of ``tests/server/_stats_support.py`` — the instance's events and another instance's, which must never
show. One Chromium for them (Playwright gives each launch a fresh temporary profile, ``--user-data-dir``); every
test gets a new browser context, so nothing (sessionStorage included) leaks from one test to the next. The fixtures
are package-scoped: Playwright's sync API holds an asyncio loop on the main thread while it runs, so it must stop
before the rest of a whole-suite run, whose tests start loops of their own.

``MOSAIC_CHROMIUM`` names the browser (the nox session sets it, and then a missing browser or Playwright is an
error); without it the tests skip unless ``/usr/bin/chromium`` exists and Playwright (the ``browser`` dependency
group) imports, so ``nox -s tests`` passes over them where they cannot run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mosaicstack_telemetry import TaskCompletionEvent
from mosaicstack_telemetry.server import SQLiteStorage
from mosaicstack_telemetry.server.runner import ServerThread
from tests.server import _stats_support as data

#: Debian's Chromium, driven instead of a browser Playwright would download.
CHROMIUM = os.environ.get("MOSAIC_CHROMIUM") or "/usr/bin/chromium"
#: The flags that work on these machines (loopback only: no background networking).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_KEY = "d4" * 32
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 400, "height": 800}
#: The known dataset: the instance's events, and another instance's.
EVENTS: list[TaskCompletionEvent] = data.make_events(240)
OTHER_EVENTS: list[TaskCompletionEvent] = data.make_events(80, instance_id=data.OTHER_INSTANCE, seed=5)


@pytest.fixture(scope="package")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the dataset."""
    path = tmp_path_factory.mktemp("dashboard") / "telemetry.sqlite3"
    with SQLiteStorage(path) as storage:
        assert all(storage.insert_events(EVENTS + OTHER_EVENTS, datetime(2026, 12, 1, tzinfo=timezone.utc)))
    return path


@pytest.fixture(scope="package")
def server(database: Path) -> Iterator[ServerThread]:
    """The reference server over the dataset, with :data:`API_KEY` for the dataset's instance."""
    with (
        SQLiteStorage(database) as storage,
        ServerThread(
            storage=storage, instance_id=data.INSTANCE, api_key=API_KEY, prediction_max_age_seconds=30.0
        ) as running,
    ):
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if os.environ.get("MOSAIC_CHROMIUM"):  # the browser session: a missing Playwright is an error there, not a skip
        from playwright import sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("MOSAIC_CHROMIUM"):
            pytest.fail(f"MOSAIC_CHROMIUM={CHROMIUM!r} does not exist")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MOSAIC_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Page:
    """A Playwright page on the dashboard, recording every request and every console error."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.requests: list[Any] = []
        self.errors: list[str] = []
        page.on("request", self._request)  # Playwright cannot wrap a builtin such as list.append
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _request(self, request: Any) -> None:
        self.requests.append(request)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open(self) -> None:
        self.page.goto(f"{self.base_url}/dashboard")

    def sign_in(self, key: str = API_KEY) -> None:
        self.page.fill("#key-input", key)
        self.page.click("#key-form button[type=submit]")

    def wait_ready(self) -> None:
        """Wait until the board shows data and no load is in flight."""
        self.page.wait_for_selector("body[data-ready=true]:not(.loading)")

    def stat(self, name: str) -> tuple[str, str]:
        """A total's shown text and its raw value."""
        element = self.page.locator(f'[data-stat="{name}"]')
        return element.inner_text(), element.get_attribute("data-value") or ""

    def table(self, table_id: str) -> dict[str, dict[str, str]]:
        """``table_id``'s rows by ``data-key``: column → shown text, ``column:name`` → the cell's ``data-name`` (its
        raw value is ``column:value``) and ``column:title`` → its tooltip."""
        return self.page.eval_on_selector(  # type: ignore[no-any-return]
            f"#{table_id}",
            """table => Object.fromEntries([...table.querySelectorAll("tbody tr[data-key]")].map(row => [
                row.dataset.key,
                Object.fromEntries([...row.cells].flatMap(cell => [
                    [cell.dataset.col, cell.innerText],
                    ...Object.entries(cell.dataset).filter(([name]) => name !== "col")
                        .map(([name, value]) => [cell.dataset.col + ":" + name, value]),
                    ...(cell.title ? [[cell.dataset.col + ":title", cell.title]] : []),
                ])),
            ]))""",
        )

    def change(self, action: Any) -> None:
        """Run ``action`` (a filter change, a page turn) and wait for the board to show its result."""
        with self.page.expect_response(lambda response: "/v1/stats/" in response.url):
            action()
        self.page.wait_for_load_state("networkidle")
        self.wait_ready()


@pytest.fixture
def dashboard(browser: Any, server: ServerThread) -> Iterator[Page]:
    """A new browser context (empty sessionStorage) at 1280×800, on the dashboard, not signed in yet."""
    context = browser.new_context(viewport=WIDE, locale="en-US", timezone_id="UTC")
    try:
        page = Page(context.new_page(), server.url)
        page.open()
        yield page
    finally:
        context.close()
