"""Every code block in README.md and docs/**/*.md runs as written, or is explicitly marked as not runnable.

What the test enforces, block by block (``_markdown.code_blocks`` finds them, fenced with backticks or tildes, also
indented inside lists and admonitions):

* ````` ```python ````` blocks are executed in order, **each on its own**: a block starts from the page's preamble
  namespace (below) and nothing else, so a block that looks like a complete program is one — copied alone, it runs.
  A fragment that uses what earlier blocks of the page defined (``client`` from the block above…) says so with
  ``<!-- continues the page -->`` on the line before its fence (blank lines may separate them; any words may follow
  ``continues``); it runs in the page's namespace, which holds everything the blocks before it defined. A block may
  use top-level ``await`` and ``async with`` (a fragment from inside an ``async def``): it is compiled with
  ``PyCF_ALLOW_TOP_LEVEL_AWAIT`` and run with ``asyncio.run``. ``__name__`` is ``"__main__"``, so
  ``if __name__ == "__main__": main()`` runs too.
* ````` ```pycon ````` blocks are doctests (``>>>`` prompts; the printed output is checked, with ``ELLIPSIS`` and
  ``NORMALIZE_WHITESPACE``), by the same rule: on their own, or continuing the page when marked.
* A block that only includes an example file (``--8<-- "examples/NAME.py"``, pymdownx.snippets) is run by
  ``test_examples.py``: the test checks that the file is one of the examples run there.
* ``<!-- not-runnable: reason -->`` on the line before a fence (blank lines may separate them) skips the block; the
  reason must say why (needs FastAPI, installs from PyPI, a shell command…).
* A block in any other language (``bash``, ``toml``…) must carry that marker. ``text`` blocks are sample output and
  wire data, not code, and need none.

**The preamble.** Before a page's first block the test starts a reference server of its own (``run_in_thread()``:
127.0.0.1, a free port, in-memory storage) and points the SDK's environment variables at it
(``MOSAIC_TELEMETRY_SERVER_URL``, ``MOSAIC_TELEMETRY_API_KEY``, ``MOSAIC_TELEMETRY_INSTANCE_ID``; any
``MOSAIC_TELEMETRY_ENABLED`` is removed), so ``TelemetryConfig()`` in a block talks to it. Every block's namespace starts with
two names, which each page that uses them introduces ("On this page, ``config`` is a ``TelemetryConfig``…"):
``config`` (a ``TelemetryConfig`` for that server) and ``event`` (a valid ``TaskCompletionEvent`` of its instance).

**Safety.** During a page, looking up any host name but loopback fails (and fails the test): a block never reaches
a real server. A client thread still running after the page (a block that forgot ``stop()``) fails the test. The
package logger's level and the root logger's handlers are restored after each page.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import inspect
import io
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from mosaicstack_telemetry import EventBuilder, TelemetryConfig
from mosaicstack_telemetry.config import ENV_API_KEY, ENV_ENABLED, ENV_INSTANCE_ID, ENV_SERVER_URL
from mosaicstack_telemetry.server import ServerThread, run_in_thread

from ._markdown import CodeBlock, code_blocks
from .test_examples import CASES

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLE_FILES = {f"examples/{param.values[0]}" for param in CASES}
RUN = {"python", "py", "python3"}
DOCTEST = {"pycon"}
NOT_CODE = {"text"}


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture
def server() -> Iterator[ServerThread]:
    """The page's reference server."""
    with run_in_thread() as running:
        yield running


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Name lookups of anything but loopback fail; the list collects the names that were refused."""
    refused: list[str] = []
    lookup = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            refused.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"the docs test resolves only loopback, not {host!r}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return refused


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture
def restored_logging() -> Iterator[None]:
    package = logging.getLogger("mosaicstack_telemetry")
    level, handlers = package.level, list(package.handlers)
    root = logging.getLogger()
    root_level, root_handlers = root.level, list(root.handlers)
    yield
    root.setLevel(root_level)
    package.setLevel(level)
    package.handlers[:] = handlers
    root.handlers[:] = root_handlers


def preamble(server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Point the SDK's environment at ``server``; the namespace a page's blocks start with."""
    monkeypatch.setenv(ENV_SERVER_URL, server.url)
    monkeypatch.setenv(ENV_API_KEY, server.api_key)
    monkeypatch.setenv(ENV_INSTANCE_ID, str(server.instance_id))
    monkeypatch.delenv(ENV_ENABLED, raising=False)
    config = TelemetryConfig(submit_interval_seconds=1.0, shutdown_timeout_seconds=5.0)
    event = (
        EventBuilder(instance_id=config.instance_id)
        .model("claude-sonnet-4-20250514")
        .duration_ms(45_000)
        .tokens(estimated_in=5_000, estimated_out=2_000, actual_in=5_200, actual_out=1_800)
        .build()
    )
    return {"__name__": "__main__", "config": config, "event": event}


def run_block(block: CodeBlock, namespace: dict[str, Any]) -> None:
    """Execute one block in ``namespace``; tracebacks point at the Markdown file's own lines."""
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, str(block.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))  # noqa: S307 - our own documentation's code
    else:
        exec(code, namespace)  # noqa: S102


def run_doctest(block: CodeBlock, namespace: dict[str, Any]) -> None:
    """Run a ``pycon`` block as a doctest in ``namespace`` (and keep what it defines)."""
    test = doctest.DocTestParser().get_doctest(block.code, namespace, block.where, str(block.path), block.line - 1)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)
    assert 0 == result.failed, report.getvalue()


def client_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name == "mosaicstack-telemetry"]


def run_page(path: Path, preamble_names: dict[str, Any]) -> str:
    """Run every block of ``path`` by the rules above, starting from ``preamble_names``; what the blocks printed."""
    printed = io.StringIO()
    page = dict(preamble_names)  # what every block of the page defined so far: the namespace of continuing blocks
    for block in code_blocks(path):
        if block.not_runnable is not None:
            assert block.not_runnable, f"{block.where}: a not-runnable marker must give a reason"
            continue
        if block.included_file is not None:
            assert block.included_file in EXAMPLE_FILES, f"{block.where}: includes a file test_examples.py does not run"
            continue
        if block.language in NOT_CODE:
            continue
        assert block.language in RUN | DOCTEST, (
            f"{block.where}: a ```{block.language or '(no language)'} block must be python or pycon, "
            "or be marked <!-- not-runnable: reason -->"
        )
        namespace = page if block.continues else dict(preamble_names)
        with redirect_stdout(printed):
            try:
                if block.language in DOCTEST:
                    run_doctest(block, namespace)
                else:
                    run_block(block, namespace)
            except Exception as error:
                alone = ""
                if isinstance(error, NameError) and not block.continues:
                    alone = " (it ran on its own: mark a fragment <!-- continues the page -->)"
                raise AssertionError(f"the code block at {block.where} failed{alone}: {error!r}") from error
        page.update(namespace)
    return printed.getvalue()


@pytest.mark.parametrize("path", PAGES, ids=page_id)
@pytest.mark.usefixtures("restored_logging")
def test_every_code_block_runs(
    path: Path, server: ServerThread, loopback_only: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's blocks run in order against a local server, touch no other host and leave no client running."""
    printed = run_page(path, preamble(server, monkeypatch))
    deadline = time.monotonic() + 5.0
    while client_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [] == client_threads(), f"{page_id(path)}: a block left a client running (missing stop()?)"
    assert [] == loopback_only, f"{page_id(path)}: a block looked up a non-loopback host"
    if path.name == "README.md":
        assert "Predicted input tokens" in printed, "the README's quick start must print a prediction"


def test_a_block_runs_on_its_own_unless_marked(tmp_path: Path) -> None:
    """A block that uses a name an earlier block defined fails unless it is marked as continuing the page; either
    way it gets the preamble's names, and a marked block also sees what unmarked blocks before it defined."""
    fence = "```"
    first = f"{fence}python\nanswer = 42\n{fence}\n\n"
    unmarked = tmp_path / "unmarked.md"
    unmarked.write_text(f"{first}{fence}python\nprint(answer, given)\n{fence}\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"unmarked\.md:6 failed \(it ran on its own: mark a fragment"):
        run_page(unmarked, {"__name__": "__main__", "given": 1})
    marked = tmp_path / "marked.md"
    marked.write_text(f"{first}<!-- continues the page -->\n\n{fence}python\nprint(answer, given)\n{fence}\n", "utf-8")
    assert "42 1\n" == run_page(marked, {"__name__": "__main__", "given": 1})


def test_pages_exist() -> None:
    """The docs are where mkdocs.yml expects them (and the README is one of the pages tested)."""
    assert (ROOT / "mkdocs.yml").is_file()
    assert len(PAGES) > 10
