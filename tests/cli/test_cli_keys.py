"""``keys create``: a key that the database then accepts, shown once, as text or JSON."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import UUID, uuid4

from mosaicstack_telemetry.server.keys import verify_key
from mosaicstack_telemetry.server.storage import SQLiteStorage

from ._support import invoke, parse_json, run_cli


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
