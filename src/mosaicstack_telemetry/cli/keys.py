"""``mosaic-telemetry keys create | list | revoke``: the api keys of a reference server's database.

Only the key's SHA-256 is stored (:mod:`..server.keys`), so a key is shown once, when it is created: losing it means
creating another. ``list`` names keys by instance and *fingerprint* (the first 8 hex digits of the stored hash) and
never shows a key; ``revoke`` takes either, and a running server refuses the key (403) from its next request on.
All work while ``serve`` runs on the same database (SQLite waits for the server's write lock), a SQLite file
(``--db``) or PostgreSQL (``--database-url`` or ``MOSAIC_TELEMETRY_DATABASE_URL``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from uuid import UUID

import click
from rich import box
from rich.table import Table

from ..config import ENV_API_KEY, ENV_INSTANCE_ID
from ..server import backends
from ..server.keys import create_key, revoke_keys
from ..server.migrations import SchemaTooNewError
from ..server.storage import KeyRecord, Storage
from .options import EXIT_CODES_HELP, database_options, database_target, json_option
from .output import Ui, emit_json, key_values

__all__ = ["keys", "open_storage"]


def database_name(target: str | Path, *, quoted: bool = True) -> str:
    """How output names the database: the SQLite path as given (quoted in messages), or the URL, password masked."""
    if isinstance(target, Path):
        return repr(str(target)) if quoted else str(target)
    return backends.describe_database(target)


def open_storage(target: str | Path) -> Storage:
    """The database ``target`` names (a SQLite file, created when missing, or a URL); a failure is exit 1 with the
    reason, not a traceback."""
    try:
        return backends.open_storage(target)
    except (SchemaTooNewError, backends.StorageOpenError) as error:
        raise click.ClickException(str(error)) from None
    except backends.database_errors() as error:
        raise click.ClickException(f"cannot open the database {database_name(target)}: {error}") from None


@click.group(epilog=EXIT_CODES_HELP)
def keys() -> None:
    """Manage the api keys of a reference server's database."""


@keys.command(epilog=EXIT_CODES_HELP)
@database_options()
@click.option("--instance-id", type=click.UUID, metavar="UUID", help="The key's instance (default: a new UUID).")
@click.option("--label", help="A note stored with the key.")
@json_option
@click.pass_obj
def create(
    ui: Ui,
    *,
    db_path: Path,
    database_url: str | None,
    instance_id: UUID | None,
    label: str | None,
    as_json: bool,
) -> None:
    """Create an api key (shown once: only its hash is stored)."""
    target = database_target(db_path, database_url)
    shown = database_name(target, quoted=False)
    storage = open_storage(target)
    try:
        issued = create_key(storage, instance_id, label=label)
    except backends.database_errors() as error:
        raise click.ClickException(f"cannot store the key in {database_name(target)}: {error}") from None
    finally:
        storage.close()
    if as_json:
        emit_json({"api_key": issued.key, "instance_id": str(issued.instance_id), "label": label, "db": shown})
        return
    ui.out.print(key_values({"api key": issued.key, "instance id": str(issued.instance_id), "database": shown}))
    ui.out.print(
        f"\nexport {ENV_API_KEY}={issued.key}\nexport {ENV_INSTANCE_ID}={issued.instance_id}",
        markup=False,
        soft_wrap=True,
    )


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _key_dict(record: KeyRecord) -> dict[str, object]:
    return {
        "fingerprint": record.fingerprint,
        "instance_id": str(record.instance_id),
        "label": record.label,
        "created_at": _when(record.created_at),
        "last_used_at": _when(record.last_used_at),
        "revoked_at": _when(record.revoked_at),
    }


def _keys_table(records: list[KeyRecord]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("fingerprint", "instance id", "label", "created", "last used", "revoked"):
        table.add_column(name)
    for record in records:
        table.add_row(
            record.fingerprint,
            str(record.instance_id),
            record.label or "",
            _when(record.created_at),
            _when(record.last_used_at) or "never",
            _when(record.revoked_at) or "",
        )
    return table


@keys.command("list", epilog=EXIT_CODES_HELP)
@database_options(must_exist=True)
@json_option
@click.pass_obj
def list_(ui: Ui, *, db_path: Path, database_url: str | None, as_json: bool) -> None:
    """List the keys (fingerprint, instance, label, created, last used, revoked); never the keys themselves.

    "last used" is recorded at most once a minute per key.
    """
    storage = open_storage(database_target(db_path, database_url, must_exist=True))
    try:
        records = storage.list_keys()
    finally:
        storage.close()
    if as_json:
        emit_json({"keys": [_key_dict(record) for record in records]})
    elif records:
        ui.out.print(_keys_table(records))
    else:
        ui.err.print("No keys.")


@keys.command(epilog=EXIT_CODES_HELP)
@click.argument("selector")
@database_options(must_exist=True)
@json_option
@click.pass_obj
def revoke(ui: Ui, *, selector: str, db_path: Path, database_url: str | None, as_json: bool) -> None:
    """Revoke the key with this fingerprint (8 hex digits, see `keys list`), or every key of this instance id.

    A running server refuses a revoked key (403) from its next request on. Revoking is final.
    """
    target = database_target(db_path, database_url, must_exist=True)
    storage = open_storage(target)
    try:
        chosen, revoked = revoke_keys(storage, selector)
        after = {record.key_sha256: record for record in storage.list_keys()}
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    except backends.database_errors() as error:
        raise click.ClickException(f"cannot revoke in {database_name(target)}: {error}") from None
    finally:
        storage.close()
    records = [after[record.key_sha256] for record in chosen]
    if as_json:
        emit_json({"revoked_now": revoked, "keys": [_key_dict(record) for record in records]})
        return
    ui.out.print(_keys_table(records))
    already = len(records) - revoked
    ui.err.print(
        f"Revoked {revoked} key{'s' if revoked != 1 else ''}" + (f" ({already} already revoked)." if already else ".")
    )
