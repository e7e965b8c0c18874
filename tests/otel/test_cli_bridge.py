"""``mosaic-telemetry bridge`` as a child process, end to end: Claude Code-shaped OTLP → bridge → reference server.

SIGTERM completes the open prompt, flushes the client and prints the counters; the event is then stored on the
reference server (``run_in_thread``), with the instance of the key the bridge was given.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mosaicstack_telemetry.enums import Harness, Outcome, Provider, QualityGate
from mosaicstack_telemetry.otel import CLAUDE_CODE
from mosaicstack_telemetry.otel.prompt import prompt_event_id
from mosaicstack_telemetry.server.runner import ServerThread, run_in_thread
from tests.cli._support import clean_env, command, invoke

from .claude import PROMPT_1, PROMPT_2, SESSION, api_request, bash_result, encode, user_prompt

DEADLINE = 30.0


class Bridge:
    """The command in a child process; stdout read line by line by a thread (so reads have a deadline)."""

    def __init__(self, *args: str, env: dict[str, str], as_json: bool = True) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command("bridge", "--port", "0", *(["--json"] if as_json else []), *args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def text_line(self) -> str:
        try:
            return self._lines.get(timeout=DEADLINE)
        except queue.Empty:
            self.process.kill()
            raise AssertionError("no line from the bridge") from None

    def line(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.text_line())
        return document

    def __enter__(self) -> Bridge:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=DEADLINE)
        self._reader.join(timeout=DEADLINE)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def stop(self) -> tuple[int, dict[str, Any]]:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=DEADLINE)
        return code, self.line()


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with run_in_thread() as running:
        yield running


def _env(server: ServerThread, **extra: str) -> dict[str, str]:
    return clean_env(
        MOSAIC_TELEMETRY_SERVER_URL=server.url,
        MOSAIC_TELEMETRY_API_KEY=server.api_key,
        MOSAIC_TELEMETRY_INSTANCE_ID=str(server.instance_id),
        **extra,
    )


def test_prompts_reach_the_reference_server_and_sigterm_flushes(server: ServerThread) -> None:
    with Bridge(env=_env(server)) as bridge:
        where = bridge.line()
        first = [user_prompt(0, 1), api_request(1000, 2), bash_result(2000, 3, "pytest -q", success=False)]
        second = [user_prompt(9000, 4, prompt_id=PROMPT_2), api_request(9500, 5, prompt_id=PROMPT_2)]
        with httpx.Client(timeout=DEADLINE) as http:
            for batch in (first, first, second):  # the repeat is an exporter retry
                reply = http.post(where["logs"], content=encode(batch), headers={"content-type": "application/json"})
                assert (200, {}) == (reply.status_code, reply.json())
            stats = http.get(f"{where['url']}/stats").json()
        assert (3, 1) == (stats["duplicates"], stats["open_prompts"])  # the second prompt completed the first
        code, counters = bridge.stop()
    assert 0 == code
    assert (2, 2, 5) == (counters["events_tracked"], counters["events_sent"], counters["records_mapped"])
    assert {"next_prompt": 1, "shutdown": 1} == counters["prompts_completed"]
    assert 2 == server.storage.count_events(server.instance_id)
    failed = server.storage.fetch_event(server.instance_id, prompt_event_id(CLAUDE_CODE, SESSION, PROMPT_1))
    passed = server.storage.fetch_event(server.instance_id, prompt_event_id(CLAUDE_CODE, SESSION, PROMPT_2))
    assert failed is not None
    assert passed is not None
    assert (2000, 500) == (failed.task_duration_ms, passed.task_duration_ms)
    assert Outcome.SUCCESS == passed.outcome
    assert (Harness.CLAUDE_CODE, Provider.ANTHROPIC, Outcome.PARTIAL) == (
        failed.harness,
        failed.provider,
        failed.outcome,
    )
    assert [QualityGate.TEST] == failed.quality_gates_failed
    assert 20629 == failed.actual_input_tokens


def test_token_from_the_environment_is_required(server: ServerThread) -> None:
    with Bridge(env=_env(server, MOSAIC_TELEMETRY_BRIDGE_TOKEN="tok-123")) as bridge:
        where = bridge.line()
        assert where["token"] is True
        with httpx.Client(timeout=DEADLINE) as http:
            refused = http.post(where["logs"], content=b"{}", headers={"content-type": "application/json"})
            accepted = http.post(
                where["logs"],
                content=b"{}",
                headers={"content-type": "application/json", "authorization": "Bearer tok-123"},
            )
        assert (401, 200) == (refused.status_code, accepted.status_code)
        code, counters = bridge.stop()
    assert 0 == code
    assert {"401": 1} == counters["refused"]


def test_bad_token_file_and_missing_config_are_usage_errors(tmp_path: Path) -> None:
    missing = invoke("bridge", "--token-file", str(tmp_path / "nope"))
    assert 2 == missing.exit_code
    assert "cannot read" in missing.output
    spaced = tmp_path / "token"
    spaced.write_text("two words\n", encoding="utf-8")
    bad = invoke("bridge", "--token-file", str(spaced))
    assert 2 == bad.exit_code
    assert "one token without spaces" in bad.output
    assert "two words" not in bad.output
    good = tmp_path / "good"
    good.write_text("tok\n", encoding="utf-8")
    unconfigured = invoke("bridge", "--token-file", str(good))
    assert 2 == unconfigured.exit_code
    assert "--server-url or MOSAIC_TELEMETRY_SERVER_URL" in unconfigured.output


def test_help_names_the_options() -> None:
    shown = invoke("bridge", "--help")
    assert 0 == shown.exit_code
    for option in ("--idle-timeout", "--max-open-prompts", "--token-file", "MOSAIC_TELEMETRY_BRIDGE_TOKEN", "4318"):
        assert option in shown.output


def test_human_output_shows_the_exports_and_the_counters(server: ServerThread) -> None:
    with Bridge(env=_env(server), as_json=False) as bridge:
        lines = [bridge.text_line() for _ in range(3)]
        while "OTEL_EXPORTER_OTLP_ENDPOINT" not in lines[-1]:
            lines.append(bridge.text_line())
        url = lines[-1].strip().split("=", 1)[1]
        with httpx.Client(timeout=DEADLINE) as http:
            reply = http.post(
                f"{url}/v1/logs",
                content=encode([user_prompt(0, 1), api_request(10, 2)]),
                headers={"content-type": "application/json"},
            )
        assert 200 == reply.status_code
        bridge.process.send_signal(signal.SIGTERM)
        _, stderr = bridge.process.communicate(timeout=DEADLINE)
    assert 0 == bridge.process.returncode
    assert "Mosaic Telemetry OTLP bridge" in lines[0]
    assert any("CLAUDE_CODE_ENABLE_TELEMETRY=1" in line for line in lines)
    assert "Stopped." in stderr
    assert "events sent" in stderr
    assert 1 == server.storage.count_events(server.instance_id)
