"""``mosaic-telemetry keys create``: issue an api key in a reference server's database.

Only the key's SHA-256 is stored (:mod:`..server.keys`), so a key is shown once, when it is created: losing it means
creating another. Works while ``serve`` runs on the same database (SQLite waits for the server's write lock).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import UUID

import click

from ..config import ENV_API_KEY, ENV_INSTANCE_ID
from ..server.keys import create_key
from ..server.migrations import SchemaTooNewError
from ..server.storage import SQLiteStorage
from .options import DEFAULT_DB, EXIT_CODES_HELP, json_option
from .output import Ui, emit_json, key_values

__all__ = ["keys", "open_storage"]


def open_storage(path: Path) -> SQLiteStorage:
    """The database at ``path`` (created when missing); a failure is exit 1 with the reason, not a traceback."""
    try:
        return SQLiteStorage(path)
    except SchemaTooNewError as error:
        raise click.ClickException(str(error)) from None
    except sqlite3.Error as error:
        raise click.ClickException(f"cannot open the database {str(path)!r}: {error}") from None


@click.group(epilog=EXIT_CODES_HELP)
def keys() -> None:
    """Manage the api keys of a reference server's database."""


@keys.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    show_default=True,
    help="The server's SQLite database (created when missing).",
)
@click.option("--instance-id", type=click.UUID, metavar="UUID", help="The key's instance (default: a new UUID).")
@click.option("--label", help="A note stored with the key.")
@json_option
@click.pass_obj
def create(ui: Ui, *, db_path: Path, instance_id: UUID | None, label: str | None, as_json: bool) -> None:
    """Create an api key (shown once: only its hash is stored)."""
    with open_storage(db_path) as storage:
        try:
            issued = create_key(storage, instance_id, label=label)
        except sqlite3.Error as error:
            raise click.ClickException(f"cannot store the key in {str(db_path)!r}: {error}") from None
    if as_json:
        emit_json({"api_key": issued.key, "instance_id": str(issued.instance_id), "label": label, "db": str(db_path)})
        return
    ui.out.print(key_values({"api key": issued.key, "instance id": str(issued.instance_id), "database": str(db_path)}))
    ui.out.print(
        f"\nexport {ENV_API_KEY}={issued.key}\nexport {ENV_INSTANCE_ID}={issued.instance_id}",
        markup=False,
        soft_wrap=True,
    )
