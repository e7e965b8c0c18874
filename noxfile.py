"""Task runner: ``nox -s tests lint typecheck readme otel contract browser`` is the whole check (and what CI runs); ``nox -l`` lists the rest."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typecheck", "readme", "otel", "contract", "browser"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
ROOT = Path(__file__).parent


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    requirements = [requirement for group in groups for requirement in nox.project.dependency_groups(PYPROJECT, group)]
    session.install("--upgrade", "pip")
    session.install(*requirements, f".{extras}")


def _pytest(session: nox.Session) -> None:
    _install(session, "test", extras="[trio,server,fast,cli,postgres]")
    session.run(
        "pytest",
        "--cov",
        "--cov-branch",
        "--cov-report=term-missing:skip-covered",
        "--cov-fail-under=90",
        *session.posargs,
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite on the current interpreter, every async test under asyncio and trio, branch coverage ≥ 90%."""
    _pytest(session)


def _pyenv_interpreters() -> list[str]:
    """Interpreters 3.10-3.13 found on PATH or under pyenv (here they are not on PATH by default)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for version in PYTHONS:
        installed = sorted(root.glob(f"{version}.*/bin/python{version}")) if root.is_dir() else []
        on_path = shutil.which(f"python{version}")
        if installed:
            found.append(str(installed[-1]))
        elif on_path and "/shims/" not in on_path:  # a pyenv shim fails for versions not selected globally
            found.append(on_path)
    return found


@nox.session
@nox.parametrize("python", _pyenv_interpreters() or ["python3"])
def tests_all(session: nox.Session) -> None:
    """The test suite under each Python 3.10-3.13 this machine has (PATH or pyenv)."""
    _pytest(session)


@nox.session
def otel(session: nox.Session) -> None:
    """The OTLP bridge's tests (tests/otel) with the OpenTelemetry SDK's own exporters, protobuf and JSON, over
    loopback; `nox -s tests` skips the ones that need these packages."""
    light = {"pytest", "pytest-timeout", "trio"}  # of the test group: not the provider SDKs the LLM tests need
    test = [r for r in nox.project.dependency_groups(PYPROJECT, "test") if Requirement(r).name in light]
    session.install("--upgrade", "pip")
    session.install(*test, *nox.project.dependency_groups(PYPROJECT, "otel"), ".[server,cli,trio,otel]")
    session.run("pytest", "tests/otel", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: the reference server on loopback, a simulated workload through the client, predictions."""
    session.install(".[server,cli,trio,fast]")
    session.run("mosaic-telemetry", "demo", *session.posargs)


@nox.session
def readme(session: nox.Session) -> None:
    """The README's steps in a fresh copy of the checkout: its install line (a new venv), the command on PATH, the
    demo, and `send` of its JSONL example twice, the second storing nothing new (tests/docs/readme_flow.py)."""
    session.install("attrs")  # the flow reads the README with tests/docs/_markdown.py; it installs the package itself
    session.run("python", str(ROOT / "tests" / "docs" / "readme_flow.py"))


@nox.session
def docs(session: nox.Session) -> None:
    """Build the MkDocs site in strict mode (a broken reference fails the build)."""
    _install(session, "docs", extras="[trio,server,cli]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def contract(session: nox.Session) -> None:
    """The reference server against its own OpenAPI document: schemathesis drives a live server (tests/contract);
    `nox -s tests` skips them without schemathesis."""
    light = {"pytest", "pytest-timeout", "hypothesis", "trio"}  # of the test group: not the provider SDKs
    test = [r for r in nox.project.dependency_groups(PYPROJECT, "test") if Requirement(r).name in light]
    session.install("--upgrade", "pip")
    session.install(*test, *nox.project.dependency_groups(PYPROJECT, "contract"), ".[server,fast]")
    session.run("pytest", "tests/contract", *session.posargs)


CHROMIUM = "/usr/bin/chromium"


@nox.session
def browser(session: nox.Session) -> None:
    """The dashboard in a real browser (tests/browser): Playwright for Python driving Debian's headless Chromium,
    installed with apt when missing (CI runs as root; elsewhere install the `chromium` package yourself)."""
    if not Path(CHROMIUM).exists():
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", external=True)
    session.install("--upgrade", "pip")
    session.install(*nox.project.dependency_groups(PYPROJECT, "browser"), ".[server,cli,fast]")
    session.run("pytest", "tests/browser", *session.posargs, env={"MOSAIC_CHROMIUM": CHROMIUM})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check (incl. ASYNC and bandit rules) and ruff format --check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src, tests, benchmarks and this file."""
    _install(session, "typecheck", "test", "bench", extras="[trio,server,fast,cli]")
    session.install("nox")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark in benchmarks/ (figures and ratios against baselines measured in the same run)."""
    _install(session, "bench", "test", extras="[trio,server,fast,cli]")  # test: the provider SDKs bench_llm drives
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script))


@nox.session
def format(session: nox.Session) -> None:
    """Apply ruff's fixes and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", "--fix", ".")
    session.run("ruff", "format", ".")
