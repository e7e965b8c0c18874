"""The command line's frame: --version, --help on every command, exit codes, usage errors, unexpected errors."""

from __future__ import annotations

import logging
import runpy
import sys

import pytest

from mosaicstack_telemetry import __version__
from mosaicstack_telemetry.cli import app
from mosaicstack_telemetry.cli.options import client_config
from mosaicstack_telemetry.server.runner import ServerThread

from ._support import invoke, run_cli

COMMANDS = [[], ["demo"], ["serve"], ["send"], ["predict"], ["keys"], ["keys", "create"]]


def test_version_in_a_subprocess() -> None:
    """`--version` prints the program's name and the package version, and exits 0."""
    done = run_cli("--version")
    assert 0 == done.returncode
    assert f"mosaic-telemetry {__version__}\n" == done.stdout


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words) or "top")
def test_help_of_every_command_in_a_subprocess(words: list[str]) -> None:
    """Every command answers --help with its usage and the documented exit codes, exit 0, nothing on stderr."""
    done = run_cli(*words, "--help")
    assert 0 == done.returncode, done.stderr
    assert done.stdout.startswith(f"Usage: mosaic-telemetry {' '.join(words)}".rstrip())
    assert "Exit codes:" in done.stdout
    assert "2  usage error" in done.stdout
    assert "" == done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["demo", "--events", "0"],
        ["demo", "--backend", "curio"],
        ["predict", "--task-type", "testing"],
        ["send"],
        ["keys", "create", "--instance-id", "not-a-uuid"],
    ],
    ids=["command", "range", "choice", "missing-option", "missing-argument", "bad-uuid"],
)
def test_usage_errors_exit_2_without_a_traceback(args: list[str]) -> None:
    """A usage error is exit 2 with click's usage line and the error on stderr, and no traceback."""
    done = run_cli(*args)
    assert 2 == done.returncode
    assert "Usage: mosaic-telemetry" in done.stderr
    assert "Traceback" not in done.stderr
    assert "" == done.stdout


def test_module_entry_point(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m mosaicstack_telemetry.cli` is the console script (the subprocess tests run it this way)."""
    monkeypatch.setattr(sys, "argv", ["mosaic-telemetry", "--version"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("mosaicstack_telemetry.cli", run_name="__main__")
    assert 0 == exited.value.code
    assert f"mosaic-telemetry {__version__}\n" == capsys.readouterr().out


def test_help_in_process_lists_the_commands() -> None:
    """The group lists its commands (in-process: the same code, measured)."""
    result = invoke("--help")
    assert 0 == result.exit_code
    for name in ("demo", "serve", "send", "predict", "keys"):
        assert name in result.stdout


def test_an_unexpected_error_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug reaches the user as one line naming the error and how to see more, exit 1; -v shows the traceback."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.cli, "main", broken)
    with pytest.raises(SystemExit) as exited:
        app.main(["demo"])
    assert 1 == exited.value.code
    assert "mosaic-telemetry: internal error: RuntimeError: boom (-v shows the traceback)\n" == capsys.readouterr().err
    with pytest.raises(RuntimeError, match="boom"):
        app.main(["-v", "demo"])


def test_verbose_shows_the_log_while_the_command_runs(server: ServerThread) -> None:
    """-v shows the SDK's log on stderr during the command, and takes its handler away after."""
    logger = logging.getLogger("mosaicstack_telemetry")
    handlers = list(logger.handlers)
    server.faults.fail_next(1, 500)
    args = ["--task-type", "testing", "--model", "m", "--provider", "openai", "--max-retries", "1"]
    result = invoke("-v", "predict", *args, "--server-url", server.url, "--api-key", server.api_key)
    assert 0 == result.exit_code, result.stderr
    assert "HTTP 500" in result.stderr
    assert handlers == logger.handlers


def test_client_config_names_the_option_of_each_problem() -> None:
    """A missing or bad setting is a usage error naming both the option and the environment variable."""
    with pytest.raises(Exception, match=r"server_url is required \(--server-url or MOSAIC_TELEMETRY_SERVER_URL\)"):
        client_config(server_url=None, api_key="a" * 64, instance_id=None)
    with pytest.raises(Exception, match=r"api_key must be a 64-character hex string .* \(--api-key"):
        client_config(server_url="http://127.0.0.1:1", api_key="short", instance_id=None)
    with pytest.raises(Exception, match=r"instance_id='x' is not a valid UUID \(--instance-id"):
        client_config(server_url="http://127.0.0.1:1", api_key="a" * 64, instance_id="x")
    with pytest.raises(Exception, match=r"instance_id=.* \(--instance-id"):
        client_config(server_url="http://127.0.0.1:1", api_key="a" * 64, instance_id=None, need_instance_id=True)


def test_client_config_is_enabled_whatever_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Running a command is the consent: MOSAIC_TELEMETRY_ENABLED=0 (meant for embedding apps) does not disable it."""
    monkeypatch.setenv("MOSAIC_TELEMETRY_ENABLED", "0")
    config = client_config(server_url="http://127.0.0.1:1", api_key="a" * 64, instance_id=None)
    assert config.enabled
