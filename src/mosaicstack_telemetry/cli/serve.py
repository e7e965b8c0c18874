"""``mosaic-telemetry serve``: the reference server in the foreground, on a database, until Ctrl-C.

The database is a SQLite file (``--db``) or a URL (``--database-url``, or ``MOSAIC_TELEMETRY_DATABASE_URL`` — the
way a password should arrive: a command line shows in ``ps``); the banner names it with the password masked.
``--workers N`` runs N server processes on one socket with uvicorn's worker model (:mod:`..server.workers`); they
share the database, so only PostgreSQL can have more than one: with SQLite the option is refused.

On loopback by default: the reference server is for development, and ``--host 0.0.0.0`` should be a decision.

Every start prints an api key to use. The database keeps only keys' hashes, so a key from an earlier start cannot
be shown again: each start issues a new key, unless ``--api-key`` names one — a key already in the database is
reused (with its instance), an unknown one is added. So ``--api-key "$MOSAIC_TELEMETRY_API_KEY"`` keeps the
exported variables valid across restarts. ``--api-key-file`` reads the key from a file instead, so that it does not
show in ``ps`` (a command line is visible to every user of the machine).

The access log (``-v``) never shows query strings (:mod:`..server.accesslog`).

The socket is bound before anything is printed (port 0 picks a free port, and the printed URL is the real one), and
connections made right after the banner wait in the listen backlog until uvicorn accepts them. SIGINT and SIGTERM
stop the server gracefully and the command exits 0.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from uuid import UUID

import click
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from ..config import ENV_API_KEY, ENV_INSTANCE_ID, ENV_SERVER_URL
from ..server.accesslog import redact_access_log
from ..server.app import create_app
from ..server.backends import describe_database, supports_workers
from ..server.dashboard import DASHBOARD_PATH
from ..server.keys import ApiKey, create_key, hash_key, is_well_formed
from ..server.predictions import PREDICTION_MAX_AGE_SECONDS
from ..server.protocol import uvicorn_options
from ..server.storage import Storage
from ..server.workers import serve_workers
from .keys import open_storage
from .listening import GRACE_SECONDS, bind_listener, local_url, until_stopped
from .options import EXIT_CODES_HELP, database_options, database_target, json_option
from .output import Ui, emit_json, key_values

__all__ = ["serve"]


def _check_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_well_formed(value):
        raise click.BadParameter("must be 64 hexadecimal characters")
    return value


def _read_key_file(path: Path) -> str:
    """The key in ``path`` (surrounding whitespace ignored); errors never show the file's content."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise click.BadParameter(f"cannot read {str(path)!r}: {reason}", param_hint="--api-key-file") from None
    if not is_well_formed(text):
        raise click.BadParameter(
            f"{str(path)!r} must hold 64 hexadecimal characters (and nothing else)", param_hint="--api-key-file"
        )
    return text


def _key(storage: Storage, api_key: str | None, instance_id: UUID | None) -> tuple[ApiKey, bool]:
    """The key to announce, and whether it was already in the database."""
    if api_key is not None:
        record = storage.find_key(hash_key(api_key))
        if record is not None:
            if record.revoked:
                raise click.BadParameter("this key is revoked: create another", param_hint="--api-key")
            if instance_id is not None and instance_id != record.instance_id:
                raise click.BadParameter(
                    f"this key belongs to instance {record.instance_id}, not {instance_id}", param_hint="--instance-id"
                )
            return ApiKey(key=api_key.lower(), instance_id=record.instance_id, label=record.label), True
    return create_key(storage, instance_id, label="serve", key=api_key), False


@click.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (0.0.0.0: every interface: other machines can connect).",
)
@click.option("--port", type=click.IntRange(0, 65_535), default=8000, show_default=True, help="0: a free port.")
@database_options()
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Server processes sharing the socket and the database (more than 1 needs PostgreSQL).",
)
@click.option(
    "--api-key",
    callback=_check_key,
    metavar="KEY",
    help="Announce this key instead of a new one (reused if the database has it, added if not).",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Read the key to announce from this file (as --api-key, but out of sight of ps).",
)
@click.option("--instance-id", type=click.UUID, metavar="UUID", help="Instance of a new key (default: a new UUID).")
@click.option(
    "--prediction-max-age",
    type=click.FloatRange(min=0),
    default=PREDICTION_MAX_AGE_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Predictions may come from summaries this old although events arrived since (0: always exact).",
)
@json_option
@click.pass_obj
def serve(
    ui: Ui,
    *,
    host: str,
    port: int,
    db_path: Path,
    database_url: str | None,
    workers: int,
    api_key: str | None,
    api_key_file: Path | None,
    instance_id: UUID | None,
    prediction_max_age: float,
    as_json: bool,
) -> None:
    """Run the reference server in the foreground until Ctrl-C.

    Prints the URL, an api key and its instance id, and the environment variables that point the SDK at it
    (--json: the same as one JSON line). Each start issues a new key unless --api-key names one: only keys'
    hashes are stored, so an earlier key cannot be shown again. -v logs every request.

    The database: --database-url (or MOSAIC_TELEMETRY_DATABASE_URL), else --db. --workers N runs N processes
    (PostgreSQL only).
    """
    target = database_target(db_path, database_url)
    if workers > 1 and not supports_workers(target):
        raise click.UsageError(
            f"--workers {workers} needs PostgreSQL (--database-url postgresql://… or MOSAIC_TELEMETRY_DATABASE_URL):"
            " a SQLite database is served by one process"
        )
    if api_key_file is not None:
        if api_key is not None:
            raise click.UsageError("--api-key and --api-key-file are exclusive: give one")
        api_key = _read_key_file(api_key_file)
    if not ui.verbose:  # a server in the foreground shows its warnings and errors; -v shows every request
        click.get_current_context().call_on_close(ui.show_log(logging.WARNING, ("uvicorn", "mosaicstack_telemetry")))
    storage = open_storage(target)
    with until_stopped():
        try:
            issued, reused = _key(storage, api_key, instance_id)
            sock = bind_listener(host, port)
            url = local_url(host, sock.getsockname()[1])
            _announce(ui, url, issued, reused, storage, database=describe_database(target), as_json=as_json)
        except BaseException:
            storage.close()
            raise
        try:
            redact_access_log()
            config: dict[str, Any] = {
                "loop": "asyncio",
                "ws": "none",
                "lifespan": "on",  # the OTLP mount: idle prompts swept, open ones stored at shutdown
                "log_config": None,  # -v shows uvicorn's log through our handler
                "access_log": True,
                "server_header": False,
                "timeout_graceful_shutdown": GRACE_SECONDS,
            }
            if workers > 1:
                storage.close()  # each worker opens its own pool
                # Workers log to stderr through uvicorn's own configuration (our handler lives in this process).
                config.update(
                    log_config=LOGGING_CONFIG,
                    log_level="info" if ui.verbose else "warning",
                    access_log=ui.verbose,
                    limit_concurrency=uvicorn_options()["limit_concurrency"],
                )
                serve_workers(
                    sock,
                    workers=workers,
                    database_url=str(target),
                    prediction_max_age_seconds=prediction_max_age,
                    **config,
                )
            else:
                app = create_app(storage, prediction_max_age_seconds=prediction_max_age)
                # header and body deadlines, the connection cap
                uvicorn.Server(uvicorn.Config(app, **config, **uvicorn_options())).run(sockets=[sock])
        finally:
            sock.close()
            storage.close()
    ui.err.print("Stopped.")


def _announce(
    ui: Ui, url: str, issued: ApiKey, reused: bool, storage: Storage, *, database: str, as_json: bool
) -> None:
    if as_json:
        emit_json(
            {
                "url": url,
                "dashboard": f"{url}{DASHBOARD_PATH}",
                "api_key": issued.key,
                "instance_id": str(issued.instance_id),
                "db": database,
                "reused_key": reused,
            },
            indent=None,
        )
        return
    note = "(in the database already)" if reused else "(new: shown once, only its hash is stored)"
    ui.out.print("[bold]Mosaic Telemetry reference server[/]")
    ui.out.print(
        key_values(
            {
                "url": url,
                "dashboard": f"{url}{DASHBOARD_PATH} (paste the api key when it asks)",
                "api key": f"{issued.key} {note}",
                "instance id": str(issued.instance_id),
                "database": f"{database} ({storage.count_events():,} events)",
            }
        )
    )
    ui.out.print(
        f"\nexport {ENV_SERVER_URL}={url}\nexport {ENV_API_KEY}={issued.key}\nexport {ENV_INSTANCE_ID}={issued.instance_id}\n",
        markup=False,
        soft_wrap=True,
    )
    ui.err.print("Listening; Ctrl-C stops the server.")
