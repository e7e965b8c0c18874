"""The README's steps, as a new user takes them, in a fresh copy of the checkout (``nox -s readme`` runs this).

1. the install line (the README's ``pip install -e ".[cli]"`` block), run by bash in the copy: it creates a fresh
   virtual environment and activates it;
2. in that same shell: ``mosaic-telemetry`` resolves to the environment's ``bin/`` (the command is on ``PATH``),
   answers ``--version``, and ``mosaic-telemetry demo`` succeeds (and its ``--backend trio``: the ``cli`` extra
   brings trio);
3. ``mosaic-telemetry serve`` (a free port, a database in the copy, the instance of the README's JSONL example),
   then ``mosaic-telemetry send events.jsonl`` of the README's example, twice: the first stores every line, the
   second stores nothing new and says so.

It needs only the standard library and attrs (the Markdown reader's), not the package. Prints each step's duration; exits non-zero, with
the step's output, when a step fails. The functions that read the README are also used by ``test_readme_flow.py``,
so a README edit that breaks this flow fails the fast test suite too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if not __package__:  # run as a script: python tests/docs/readme_flow.py
    sys.path.insert(0, str(ROOT))

from tests.docs._markdown import code_blocks  # noqa: E402 - after the path is set

README = ROOT / "README.md"
INSTALL_MARK = 'pip install -e ".[cli]"'
EXAMPLE_HEADING = "### Sending a file of events"
#: Not copied into the fresh checkout: environments, caches, build output, databases.
IGNORED = (".git", ".venv", ".nox", "site", "dist", "build", "__pycache__", "*.db", "*.sqlite3", ".*_cache")
STEP_TIMEOUT = 300.0


def install_line(readme: Path = README) -> str:
    """The README's one install line (the bash block holding ``pip install -e ".[cli]"``)."""
    found = [block.code.strip() for block in code_blocks(readme) if INSTALL_MARK in block.code]
    if len(found) != 1 or "\n" in found[0]:
        raise ValueError(f"{readme}: expected one one-line bash block with {INSTALL_MARK}, found {found!r}")
    return found[0]


def jsonl_example(readme: Path = README) -> str:
    """The README's JSONL example: the first ``json`` block after the heading "Sending a file of events"."""
    text = readme.read_text(encoding="utf-8")
    if EXAMPLE_HEADING not in text:
        raise ValueError(f"{readme}: no {EXAMPLE_HEADING!r} section")
    heading_line = text[: text.index(EXAMPLE_HEADING)].count("\n") + 1
    for block in code_blocks(readme):
        if block.line > heading_line and block.language == "json":
            return block.code
    raise ValueError(f"{readme}: no json block after {EXAMPLE_HEADING!r}")


def example_instance_id(example: str) -> str:
    """The instance id every line of the example shares."""
    ids = {str(json.loads(line)["instance_id"]) for line in example.splitlines() if line.strip()}
    if len(ids) != 1:
        raise ValueError(f"the JSONL example's lines name {len(ids)} instance ids: {sorted(ids)}")
    return ids.pop()


def _step(name: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own commands
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False
    )
    print(f"{name}: exit {done.returncode} in {time.monotonic() - started:.1f} s", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
    return done


def _expect(condition: bool, message: str, *outputs: str) -> None:
    if not condition:
        raise SystemExit(message + "".join(f"\n--- output ---\n{output}" for output in outputs))


def main() -> None:
    started = time.monotonic()
    example = jsonl_example()
    lines = [line for line in example.splitlines() if line.strip()]
    instance_id = example_instance_id(example)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MOSAIC_TELEMETRY_", "NOX_"))}
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="mosaic-readme-") as directory:
        checkout = Path(directory) / "checkout"
        shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(*IGNORED))
        (checkout / "events.jsonl").write_text(example, encoding="utf-8")
        venv_bin = checkout / ".venv" / "bin"
        script = "\n".join(
            [
                "set -eo pipefail",
                install_line(),
                f'test "$(command -v mosaic-telemetry)" = {shlex.quote(str(venv_bin / "mosaic-telemetry"))}',
                "mosaic-telemetry --version",
                "mosaic-telemetry demo",
                "mosaic-telemetry demo --backend trio --events 200 --duration 0.5 --no-faults",  # trio comes with cli
            ]
        )
        _step("install line, command on PATH, demo", ["bash", "-c", script], cwd=checkout, env=env)
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"  # what the activation did in that shell
        serve_log = (Path(directory) / "serve.log").open("w", encoding="utf-8")
        serve_command = ["mosaic-telemetry", "serve", "--port", "0", "--db", "telemetry.db", "--json", "--instance-id"]
        serve = subprocess.Popen(  # noqa: S603 - our own command, found on PATH as a user runs it
            [*serve_command, instance_id],
            cwd=checkout,
            env=env,
            stdout=subprocess.PIPE,
            stderr=serve_log,
            text=True,
        )
        try:
            assert serve.stdout is not None
            banner: dict[str, Any] = json.loads(serve.stdout.readline() or "{}")
            _expect("url" in banner, "serve printed no JSON banner", (Path(directory) / "serve.log").read_text())
            env.update(
                MOSAIC_TELEMETRY_SERVER_URL=banner["url"],
                MOSAIC_TELEMETRY_API_KEY=banner["api_key"],
                MOSAIC_TELEMETRY_INSTANCE_ID=banner["instance_id"],
            )
            first = _step("send (first)", ["mosaic-telemetry", "send", "events.jsonl"], cwd=checkout, env=env)
            expected = f"Sent events.jsonl: {len(lines)} new events stored"
            _expect(first.stdout.startswith(expected), f"the first send should say {expected!r}", first.stdout)
            second = _step(
                "send (again)", ["mosaic-telemetry", "send", "events.jsonl", "--json"], cwd=checkout, env=env
            )
            report = json.loads(second.stdout)
            counts = (report["ok"], report["sent"], report["new"], report["duplicates"])
            _expect((True, len(lines), 0, len(lines)) == counts, f"the second send stored something: {counts}")
            _expect(report["summary"].startswith("Nothing new"), "the second send's heading", report["summary"])
        finally:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=10)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
            serve_log.close()
    print(f"README flow: passed in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
