"""A throwaway PostgreSQL for the tests: one cluster per test session, a fresh database per test.

:func:`postgres_cluster` (session scope) runs ``initdb`` and ``pg_ctl`` from PATH on a directory made with
:func:`tempfile.mkdtemp`, listening on 127.0.0.1 and a free port, with durability switched off (``fsync``,
``synchronous_commit``: a test database is thrown away) and removes it all at the end of the session. ``initdb``
refuses to run as root: as root, the commands run as the ``postgres`` user (``runuser -u postgres --``), who is
handed the directory. :func:`postgres_url` creates an empty database for one test and drops it afterwards.

Without the binaries (or psycopg, or, as root, a ``postgres`` user) the tests that need PostgreSQL are skipped with
one line saying why — unless ``MOSAIC_TEST_POSTGRES=1`` (CI sets it), which turns that into a failure: CI must not
pass by skipping them. (:func:`pytest_runtest_makereport` files every such skip under this module's location, so
pytest's summary shows one line for all of them, not one per test.)

The root ``tests/conftest.py`` imports these fixtures and that hook, so every test package shares one cluster.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

__all__ = [
    "ENV_REQUIRE",
    "PostgresCluster",
    "postgres_cluster",
    "postgres_url",
    "pytest_runtest_makereport",
    "start_cluster",
]

#: Set to 1 to make missing PostgreSQL binaries a test failure instead of a skip.
ENV_REQUIRE = "MOSAIC_TEST_POSTGRES"
#: The cluster's superuser (trust authentication on loopback: a throwaway cluster).
USER = "mosaic"
_BINARIES = ("initdb", "pg_ctl")
_SKIPPED = f"PostgreSQL tests skipped ({ENV_REQUIRE}=1 makes this a failure)"


class PostgresCluster:
    """A running cluster: :meth:`url` of a database, :meth:`create_database` / :meth:`drop_database`, :meth:`stop`."""

    def __init__(self, directory: Path, port: int, run_as: list[str]) -> None:
        self.directory = directory
        self.port = port
        self._run_as = run_as
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(statement)

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run(  # noqa: S603 - our own argument lists
            [*self._run_as, "pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _unavailable() -> str | None:
    """Why no cluster can be started here, or ``None``."""
    missing = [name for name in _BINARIES if shutil.which(name) is None]
    if missing:
        return f"PostgreSQL binaries not on PATH ({', '.join(missing)})"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg is not installed (the "postgres" extra)'
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
    return None


def start_cluster(*, durable: bool = False) -> PostgresCluster:
    """Create and start a cluster (about a second); the caller stops it. Raises :class:`RuntimeError` on failure.

    :param durable: keep ``fsync`` and ``full_page_writes`` on (benchmarks); ``synchronous_commit`` stays off either
        way: like SQLite's ``synchronous=NORMAL``, a crash may lose the last commits but never corrupts.
    """
    run_as: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="mosaic-pg-"))
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, user="postgres")
    data = directory / "data"
    try:
        subprocess.run(  # noqa: S603 - our own argument lists
            [*run_as, "initdb", "-D", str(data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
        )
        failures: list[str] = []
        for _ in range(5):  # a free port can be taken between the probe and the start: try another
            port = _free_port()
            options = (
                f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c synchronous_commit=off"
                " -c max_connections=200" + ("" if durable else " -c fsync=off -c full_page_writes=off")
            )
            started = subprocess.run(  # noqa: S603 - our own argument lists
                [*run_as, "pg_ctl", "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start"],
                check=False,
                capture_output=True,
            )
            if started.returncode == 0:
                return PostgresCluster(directory, port, run_as)
            failures.append(started.stderr.decode(errors="replace"))
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    log = (directory / "log").read_text(errors="replace")[-2000:]
    shutil.rmtree(directory, ignore_errors=True)
    raise RuntimeError(f"pg_ctl start failed: {failures[-1]}\n{log}")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """The session's PostgreSQL cluster (skipped, or failed under ``MOSAIC_TEST_POSTGRES=1``, where impossible)."""
    reason = _unavailable()
    if reason is not None:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(f"{reason}, and {ENV_REQUIRE}=1 requires the PostgreSQL tests", pytrace=False)
        pytest.skip(f"{reason}: {_SKIPPED}")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of an empty database of this test's own, dropped afterwards."""
    url = postgres_cluster.create_database()
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            postgres_cluster.drop_database(url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Report every "no PostgreSQL here" skip at one location, so the summary groups them into one line."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and report.longrepr[2].endswith(_SKIPPED):
        report.longrepr = (__file__, 0, report.longrepr[2])
    return report
