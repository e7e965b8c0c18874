"""What several commands share: the exit codes, the ``--json`` flag, the server options and the client config.

Exit codes are part of the interface (scripts test them), so they are defined once, here, and shown in every
command's ``--help``:

* ``0`` — everything asked for was done;
* ``1`` — a failure at run time, partial or complete: bad input lines, events the server rejected or that could not
  be sent, a server that cannot be reached or answers errors, a port or database that cannot be opened;
* ``2`` — a usage error: unknown command or option, bad option value, missing file, missing server URL or api key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import ENV_API_KEY, ENV_INSTANCE_ID, ENV_SERVER_URL, TelemetryConfig
from ..server.backends import ENV_DATABASE_URL, URL_FORMS, is_database_url

__all__ = [
    "DEFAULT_DB",
    "ENV_DATABASE_URL",
    "EXIT_CODES_HELP",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "client_config",
    "database_options",
    "database_target",
    "json_option",
    "server_options",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

#: The database ``serve`` and ``keys create`` share unless told otherwise (or given a database URL).
DEFAULT_DB = "mosaic-telemetry.db"

# ``\b`` keeps click from re-wrapping the block.
EXIT_CODES_HELP = """\b
Exit codes:
  0  everything was done
  1  failure at run time (bad input lines, events rejected or unsent,
     server unreachable or answering errors)
  2  usage error (bad command, option or value; missing file or config)"""

_F = TypeVar("_F", bound=Callable[..., Any])

json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON document on stdout (and nothing else there).",
)


def database_options(*, must_exist: bool = False) -> Callable[[_F], _F]:
    """``--db FILE`` and ``--database-url URL``: the reference server's database (see :func:`database_target`)."""
    db = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        help="The server's SQLite database" + ("." if must_exist else " (created when missing)."),
    )
    url = click.option(
        "--database-url",
        envvar=ENV_DATABASE_URL,
        show_envvar=True,
        metavar="URL",
        callback=_check_database_url,
        help="postgresql://USER@HOST/DB (or sqlite:///FILE), instead of --db. Prefer the environment variable for a"
        " URL with a password (or a PGPASSFILE): a command line shows in ps.",
    )

    def decorate(function: _F) -> _F:
        return db(url(function))

    return decorate


def _check_database_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A database URL must have a database scheme: a libpq ``key=value`` string or a path is a usage error (never
    opened as a SQLite file named with the password), naming the option or variable, not repeating the value."""
    if not value or is_database_url(value):
        return value
    from_environment = ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.ENVIRONMENT
    source = f"the environment variable {ENV_DATABASE_URL}" if from_environment else "--database-url"
    raise click.UsageError(
        f"{source} is not a database URL (not shown: it may hold a password): give {URL_FORMS};"
        " a SQLite file by its path goes to --db"
    )


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:/")


def database_target(db_path: Path, database_url: str | None, *, must_exist: bool = False) -> str | Path:
    """The database a command opens: ``--database-url``, else ``$MOSAIC_TELEMETRY_DATABASE_URL``, else ``--db``.

    :raises click.BadParameter: ``must_exist`` and the ``--db`` file is missing (exit 2: listing does not create).
    """
    if database_url:
        return database_url
    if _URL_SCHEME.match(str(db_path)):  # a URL given to --db (the Path made its "//" one "/")
        raise click.BadParameter("takes a SQLite file: give a database URL with --database-url", param_hint="--db")
    if must_exist and not db_path.exists():
        raise click.BadParameter(f"{str(db_path)!r} does not exist", param_hint="--db")
    return db_path


def server_options(function: _F) -> _F:
    """``--server-url``, ``--api-key``, ``--instance-id`` (falling back to the SDK's environment variables),
    ``--timeout`` and ``--max-retries``: what a command needs to talk to a server as the SDK does."""
    decorators = [
        click.option(
            "--server-url",
            envvar=ENV_SERVER_URL,
            show_envvar=True,
            metavar="URL",
            help="Telemetry API base URL, e.g. http://127.0.0.1:8000.",
        ),
        click.option(
            "--api-key",
            envvar=ENV_API_KEY,
            show_envvar=True,
            metavar="KEY",
            help="64-character hex api key.",
        ),
        click.option(
            "--instance-id",
            envvar=ENV_INSTANCE_ID,
            show_envvar=True,
            metavar="UUID",
            help="This instance's UUID (the api key's instance).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=10.0,
            show_default=True,
            metavar="SECONDS",
            help="Overall deadline of one HTTP attempt.",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(0, 20),
            default=3,
            show_default=True,
            help="Retries of a failed request (timeouts, connection errors, 408, 429, 5xx).",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


_HINTS = {
    "server_url": f"--server-url or {ENV_SERVER_URL}",
    "api_key": f"--api-key or {ENV_API_KEY}",
    "instance_id": f"--instance-id or {ENV_INSTANCE_ID}",
}


def client_config(
    *,
    server_url: str | None,
    api_key: str | None,
    instance_id: str | None,
    need_instance_id: bool = False,
    **settings: Any,
) -> TelemetryConfig:
    """A :class:`TelemetryConfig` for a command, or a usage error (exit 2) naming each problem and its option.

    The SDK tolerates a bad config (it logs and drops); a command must not: sending a file to nowhere would only
    count drops. ``enabled`` is forced on: invoking the command is the consent, whatever ``MOSAIC_TELEMETRY_ENABLED``
    says for the applications on this machine.
    """
    config = TelemetryConfig(
        server_url=server_url or "",
        api_key=api_key or "",
        instance_id=instance_id or "",
        **settings,
    )
    config.enabled = True
    problems = []
    for problem in config.validate():
        field = problem.split("=", 1)[0].split(" ", 1)[0]
        if field == "instance_id" and not config.instance_id and not need_instance_id:
            continue
        hint = _HINTS.get(field)
        problems.append(f"{problem} ({hint})" if hint else problem)
    if problems:
        raise click.UsageError("; ".join(problems))
    return config
