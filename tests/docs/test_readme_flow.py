"""What ``nox -s readme`` takes from the README is there and right, checked in the fast suite: one install line that
activates a fresh environment and installs the ``cli`` extra, and a JSONL example that ``send`` takes whole — twice
storing nothing new — under the instance its ``serve`` line names and the id namespace the README documents."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import attrs
from click.testing import CliRunner

from mosaicstack_telemetry.cli.app import cli
from mosaicstack_telemetry.cli.lines import SEND_NAMESPACE, parse_line
from mosaicstack_telemetry.server import run_in_thread

from .readme_flow import README, example_instance_id, install_line, jsonl_example


def test_the_install_line_puts_the_command_on_path() -> None:
    """A fresh virtual environment, activated in the same line (its bin/ first on PATH), with the cli extra."""
    line = install_line()
    assert line.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert line.endswith('pip install -e ".[cli]"')


def test_the_jsonl_example_is_minimal_and_complete() -> None:
    """Two lines of one instance: the first has only the required fields, the second every field; both parse."""
    lines = [line for line in jsonl_example().splitlines() if line.strip()]
    assert 2 == len(lines)
    instance = example_instance_id(jsonl_example())
    minimal, full = (parse_line(line, instance_id=None) for line in lines)
    assert (str(minimal.instance_id), str(full.instance_id)) == (instance, instance)
    assert {"event_id", "schema_version", "timestamp"}.isdisjoint(json.loads(lines[0]))
    assert {field.name for field in attrs.fields(type(full))} == set(json.loads(lines[1]))


def test_the_readme_names_the_namespace_and_the_example_instance() -> None:
    """The documented UUIDv5 namespace is the one send uses; the README's serve line issues a key for the example's
    instance, so its send works as written."""
    text = README.read_text(encoding="utf-8")
    assert str(SEND_NAMESPACE) in text
    assert (
        f"mosaic-telemetry serve --port 8000 --db telemetry.db --instance-id {example_instance_id(jsonl_example())}"
        in text
    )


def test_sending_the_example_twice_stores_it_once(tmp_path: Path) -> None:
    """The example through `send`, twice, against a server of its instance: the second run stores nothing new."""
    path = tmp_path / "events.jsonl"
    path.write_text(jsonl_example(), encoding="utf-8")
    with run_in_thread(instance_id=UUID(example_instance_id(jsonl_example()))) as server:
        args = ["send", str(path), "--json", "--server-url", server.url, "--api-key", server.api_key]
        runner = CliRunner()
        reports = [json.loads(runner.invoke(cli, args, catch_exceptions=False).stdout) for _ in range(2)]
        assert 2 == server.storage.count_events()
    assert [(True, 2, 0), (True, 0, 2)] == [(report["ok"], report["new"], report["duplicates"]) for report in reports]
