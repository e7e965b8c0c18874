"""``keys create``, ``keys list``, ``keys revoke``: keys shown once, listed by fingerprint, revoked for good."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
from click.testing import CliRunner

from mosaicstack_telemetry.cli.app import cli
from mosaicstack_telemetry.cli.workload import simulate
from mosaicstack_telemetry.server import ENV_DATABASE_URL, run_in_thread
from mosaicstack_telemetry.server.keys import hash_key, verify_key
from mosaicstack_telemetry.server.postgres import PostgresStorage
from mosaicstack_telemetry.server.storage import SQLiteStorage
from tests._postgres import PostgresCluster

from ._support import DEADLINE, clean_env, command, invoke, parse_json, run_cli


def test_create_a_key_in_a_subprocess(tmp_path: Path) -> None:
    """--json prints the key and its instance; the database then knows the key (by its hash) and its instance."""
    db = tmp_path / "server.db"
    instance = uuid4()
    done = run_cli("keys", "create", "--db", str(db), "--instance-id", str(instance), "--label", "ci", "--json")
    assert 0 == done.returncode, done.stderr
    issued = parse_json(done.stdout)
    assert str(instance) == issued["instance_id"]
    assert "ci" == issued["label"]
    with SQLiteStorage(db) as storage:
        assert instance == verify_key(storage, issued["api_key"])


def test_text_output_has_the_export_lines(tmp_path: Path) -> None:
    """Without --json: the key, a new instance id, and the lines to export."""
    db = tmp_path / "server.db"
    done = run_cli("keys", "create", "--db", str(db))
    assert 0 == done.returncode, done.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines() if line.startswith("export ")
    )
    with SQLiteStorage(db) as storage:
        assert UUID(exports["MOSAIC_TELEMETRY_INSTANCE_ID"]) == verify_key(storage, exports["MOSAIC_TELEMETRY_API_KEY"])
    assert "\x1b[" not in done.stdout  # not a terminal: no colour


def test_a_database_that_cannot_be_opened_is_exit_1(tmp_path: Path) -> None:
    """A path whose directory does not exist: exit 1 with the reason, no traceback."""
    done = run_cli("keys", "create", "--db", str(tmp_path / "missing" / "server.db"))
    assert 1 == done.returncode
    assert "cannot open the database" in done.stderr
    assert "Traceback" not in done.stderr


def test_in_process(tmp_path: Path) -> None:
    """The same command in this process (coverage): text and JSON, and a failing database."""
    db = tmp_path / "server.db"
    assert 0 == invoke("keys", "create", "--db", str(db)).exit_code
    issued = parse_json(invoke("keys", "create", "--db", str(db), "--json").stdout)
    with SQLiteStorage(db) as storage:
        assert verify_key(storage, issued["api_key"]) is not None
    failed = invoke("keys", "create", "--db", str(tmp_path / "missing" / "x.db"))
    assert 1 == failed.exit_code
    assert "cannot open the database" in failed.stderr


def test_a_database_from_a_newer_version_is_exit_1(tmp_path: Path) -> None:
    """The migration runner refuses a schema newer than the code: exit 1 naming the versions, no traceback."""
    db = tmp_path / "server.db"
    with SQLiteStorage(db):
        pass
    with sqlite3.connect(db) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01')")
    connection.close()
    failed = invoke("keys", "create", "--db", str(db))
    assert 1 == failed.exit_code
    assert "has schema version 999, newer than this code's" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_list_shows_fingerprints_never_keys(tmp_path: Path) -> None:
    """keys list: fingerprint, instance, label, created, last used, revoked — in text and JSON — and no key."""
    db = tmp_path / "server.db"
    issued = [
        parse_json(invoke("keys", "create", "--db", str(db), "--label", f"k{n}", "--json").stdout) for n in (1, 2)
    ]
    listed = parse_json(invoke("keys", "list", "--db", str(db), "--json").stdout)["keys"]
    assert [hash_key(key["api_key"])[:8] for key in issued] == [key["fingerprint"] for key in listed]
    assert [(key["instance_id"], key["label"]) for key in issued] == [(k["instance_id"], k["label"]) for k in listed]
    assert [(None, None)] * 2 == [(key["last_used_at"], key["revoked_at"]) for key in listed]
    text = invoke("keys", "list", "--db", str(db))
    assert 0 == text.exit_code
    for key in issued:
        assert key["api_key"] not in text.stdout
        assert hash_key(key["api_key"])[:8] in text.stdout
    assert "never" in text.stdout
    missing = invoke("keys", "list", "--db", str(tmp_path / "none.db"))
    assert 2 == missing.exit_code  # a database that does not exist is not created by listing it


def test_revoke_by_fingerprint_or_instance(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    instance = str(uuid4())
    first = parse_json(invoke("keys", "create", "--db", str(db), "--instance-id", instance, "--json").stdout)
    second = parse_json(invoke("keys", "create", "--db", str(db), "--instance-id", instance, "--json").stdout)
    fingerprint = hash_key(first["api_key"])[:8]
    done = invoke("keys", "revoke", fingerprint, "--db", str(db))
    assert 0 == done.exit_code, done.stderr
    assert "Revoked 1 key." in done.stderr
    by_instance = parse_json(invoke("keys", "revoke", instance, "--db", str(db), "--json").stdout)
    assert 1 == by_instance["revoked_now"]
    assert {fingerprint, hash_key(second["api_key"])[:8]} == {key["fingerprint"] for key in by_instance["keys"]}
    assert all(key["revoked_at"] for key in by_instance["keys"])
    with SQLiteStorage(db) as storage:
        assert verify_key(storage, first["api_key"]) is None
        assert verify_key(storage, second["api_key"]) is None
    unknown = invoke("keys", "revoke", str(uuid4()), "--db", str(db))
    assert (1, True) == (unknown.exit_code, "no key matches" in unknown.stderr)
    bad = invoke("keys", "revoke", "nonsense", "--db", str(db))
    assert (1, True) == (bad.exit_code, "neither a key fingerprint" in bad.stderr)


def test_a_revoked_key_is_refused_by_the_running_server_at_once(tmp_path: Path) -> None:
    """`keys revoke` on the database a server is running on: the server's next request with that key is 403."""
    db = tmp_path / "server.db"
    with SQLiteStorage(db) as storage, run_in_thread(storage=storage) as server:
        body = {"events": [simulate(1, seed=3, instance_id=str(server.instance_id))[0].model_dump(mode="json")]}
        headers = {"Authorization": f"Bearer {server.api_key}"}
        assert 200 == httpx.post(f"{server.url}/v1/events/batch", json=body, headers=headers).status_code
        listed = parse_json(invoke("keys", "list", "--db", str(db), "--json").stdout)["keys"]
        assert listed[0]["last_used_at"] is not None
        assert 0 == invoke("keys", "revoke", hash_key(server.api_key)[:8], "--db", str(db)).exit_code
        refused = httpx.post(f"{server.url}/v1/events/batch", json=body, headers=headers)
    assert (403, "revoked api key") == (refused.status_code, refused.json()["detail"])


# -- PostgreSQL ---------------------------------------------------------------------------------------------------------


def test_keys_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """keys create / list / revoke with --database-url: the key lands in PostgreSQL (no SQLite file is made), the
    output names the database with its password masked."""
    url = postgres_url.replace("mosaic@", "mosaic:hunter2@", 1)
    db = tmp_path / "unused.db"
    created = invoke("keys", "create", "--db", str(db), "--database-url", url, "--json")
    assert 0 == created.exit_code, created.stderr
    issued = parse_json(created.stdout)
    assert "hunter2" not in created.stdout
    assert postgres_url.replace("mosaic@", "mosaic:***@", 1) == issued["db"]
    assert not db.exists()
    listed = parse_json(invoke("keys", "list", "--database-url", url, "--json").stdout)["keys"]
    assert [issued["instance_id"]] == [key["instance_id"] for key in listed]
    revoked = invoke("keys", "revoke", issued["instance_id"], "--database-url", url, "--json")
    assert 1 == parse_json(revoked.stdout)["revoked_now"]
    with PostgresStorage(postgres_url) as storage:
        record = storage.find_key(hash_key(issued["api_key"]))
        assert record is not None
        assert record.revoked


def test_the_database_url_comes_from_the_environment(postgres_url: str) -> None:
    """MOSAIC_TELEMETRY_DATABASE_URL is read when --database-url is not given (in a subprocess: what users run)."""
    created = subprocess.run(  # noqa: S603 - our own interpreter and module
        command("keys", "create", "--json"),
        env=clean_env(MOSAIC_TELEMETRY_DATABASE_URL=postgres_url),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert 0 == created.returncode, created.stderr
    with PostgresStorage(postgres_url) as storage:
        assert [parse_json(created.stdout)["instance_id"]] == [str(key.instance_id) for key in storage.list_keys()]


def test_an_unreachable_database_is_exit_1_without_the_password(postgres_cluster: PostgresCluster) -> None:
    url = f"postgresql://mosaic:hunter2@127.0.0.1:{postgres_cluster.port}/no_such_database"
    failed = invoke("keys", "list", "--database-url", url)
    assert 1 == failed.exit_code
    assert "cannot open the database postgresql://mosaic:***@" in failed.stderr
    assert "hunter2" not in failed.stderr + failed.stdout


def invoke_with_database_url(args: list[str], url: str, *, source: str) -> tuple[int, str]:
    """Run a command in this process with ``url`` as ``--database-url`` or in the environment; exit code and output."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("MOSAIC_TELEMETRY_")}
    if source == "option":
        args = [*args, "--database-url", url]
    else:
        env[ENV_DATABASE_URL] = url
    result = CliRunner(env=env).invoke(cli, args, catch_exceptions=False, prog_name="mosaic-telemetry")
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize("source", ["option", "environment"])
@pytest.mark.parametrize("command_args", [["keys", "create"], ["keys", "list"], ["keys", "revoke", "0123abcd"]])
@pytest.mark.parametrize("url", ["host=db password=hunter2 dbname=t", "hunter2.db", "mysql://u:hunter2@db/t"])
def test_a_database_url_needs_a_known_scheme(
    command_args: list[str], source: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A libpq keyword string (or a path) given as a database URL is a usage error naming where it came from and the
    accepted schemes, never repeating the value (it may hold a password), and no SQLite file is created."""
    monkeypatch.chdir(tmp_path)
    code, output = invoke_with_database_url(command_args, url, source=source)
    assert 2 == code, output
    assert ("--database-url" if source == "option" else ENV_DATABASE_URL) in output
    assert "postgresql://" in output
    assert "sqlite:///" in output
    assert "hunter2" not in output
    assert [] == list(tmp_path.iterdir())
