"""Open the reference server's storage from what the operator gives: a database URL or a SQLite file.

* ``postgresql://…`` (or ``postgres://…``) — :class:`~.postgres.PostgresStorage` (the ``postgres`` extra);
* ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``, ``sqlite://`` (in memory), or a path
  (:class:`os.PathLike`) — :class:`~.sqlite.SQLiteStorage`.

A ``str`` is a URL: one without these schemes (a libpq ``key=value`` string, a file name) is refused, and the message
does not repeat it.

This is the only place that chooses a backend: the HTTP layer, the CLI and the worker processes receive a
:class:`~.storage.Storage` and never ask which one. :func:`masked_url` is how any message names a database: a URL's
password never reaches a log, an error or a repr. The URL itself should arrive through
:data:`ENV_DATABASE_URL` (or a ``PGPASSFILE``) rather than a command line, which every user of the machine can see.
"""

from __future__ import annotations

import os
import re
import sqlite3
from urllib.parse import unquote_plus, urlsplit

from .storage import SQLiteStorage, Storage

__all__ = [
    "ENV_DATABASE_URL",
    "SECRET_PARAMETERS",
    "URL_FORMS",
    "URL_SCHEMES",
    "StorageOpenError",
    "database_errors",
    "describe_database",
    "is_database_url",
    "is_postgres_url",
    "masked_url",
    "open_storage",
    "supports_workers",
]

#: The environment variable holding the database URL (``serve`` and ``keys`` read it when ``--database-url`` is not
#: given).
ENV_DATABASE_URL = "MOSAIC_TELEMETRY_DATABASE_URL"

_POSTGRES_SCHEMES = ("postgresql", "postgres")
#: The schemes a database URL may have: anything else given as a URL (a path, a libpq ``key=value`` string) is refused.
URL_SCHEMES = (*_POSTGRES_SCHEMES, "sqlite")
#: How messages say what a database URL looks like.
URL_FORMS = "postgresql://USER@HOST/DB, postgres://… or sqlite:///FILE"


class StorageOpenError(RuntimeError):
    """The database could not be opened (unreachable, refused, malformed URL); the message names it, masked."""


def is_database_url(value: str) -> bool:
    """Whether ``value`` starts with one of :data:`URL_SCHEMES` and a colon."""
    scheme, colon, _rest = value.partition(":")
    return bool(colon) and scheme.lower() in URL_SCHEMES


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and urlsplit(target).scheme.lower() in _POSTGRES_SCHEMES


#: The connection parameters that carry a secret (libpq's names), masked wherever a URL or keyword string shows.
SECRET_PARAMETERS = ("password", "sslpassword")

_KEYWORD_SECRET = re.compile(r"\b(" + "|".join(SECRET_PARAMETERS) + r")\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", re.IGNORECASE)


def masked_url(url: str) -> str:
    """``url`` with every secret replaced by ``***`` and nothing else changed: the password of the user part, and
    each ``password=`` / ``sslpassword=`` of the query (or of a libpq ``key=value`` string), whatever the host holds.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unparsable database URL>"
    if not parts.scheme or not url[len(parts.scheme) :].startswith(":"):
        return _KEYWORD_SECRET.sub(lambda match: f"{match[1]}=***", url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, host = netloc.rpartition("@")
        user, colon, _password = credentials.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{host}"
    query = "&".join(_masked_parameter(item) for item in parts.query.split("&"))
    rest = url[len(parts.scheme) + 1 :]
    shown = url[: len(parts.scheme) + 1] + (f"//{netloc}" if rest.startswith("//") else "") + parts.path
    shown += f"?{query}" if "?" in rest.partition("#")[0] else ""
    return shown + (f"#{parts.fragment}" if "#" in rest else "")


def _masked_parameter(item: str) -> str:
    name, equals, _value = item.partition("=")
    return f"{name}=***" if equals and unquote_plus(name).strip().lower() in SECRET_PARAMETERS else item


def _sqlite_path(target: str | os.PathLike[str]) -> str | None:
    """The SQLite file a target names (``None``: in memory)."""
    if isinstance(target, str):
        if not is_database_url(target):
            raise StorageOpenError(
                f"not a database URL (what was given is not shown: it may hold a password): give {URL_FORMS},"
                " or a SQLite file as a path"
            )
        rest = target[len("sqlite:") :]
        if not rest.startswith("//"):
            raise StorageOpenError(f"a SQLite URL is sqlite:///FILE (or sqlite:// in memory), not {target!r}")
        path = rest[3:] if rest.startswith("///") else rest[2:]
        return None if path in ("", ":memory:") else path
    text = os.fspath(target)
    return None if text == ":memory:" else text


def describe_database(target: str | os.PathLike[str]) -> str:
    """How messages name a database: a masked URL, or the SQLite file's absolute path (or ``:memory:``)."""
    if is_postgres_url(target):
        return masked_url(str(target))
    path = _sqlite_path(target)
    return ":memory:" if path is None else os.path.abspath(path)


def supports_workers(target: str | os.PathLike[str]) -> bool:
    """Whether several server processes may share this database (PostgreSQL: yes; SQLite: one process)."""
    return is_postgres_url(target)


def database_errors() -> tuple[type[Exception], ...]:
    """The exceptions a backend raises for a database failure at run time (for a command to report, not crash)."""
    errors: tuple[type[Exception], ...] = (sqlite3.Error, StorageOpenError)
    try:
        import psycopg  # noqa: PLC0415 - the postgres extra is optional
    except ImportError:  # pragma: no cover - without the postgres extra only SQLite can fail
        return errors
    return (*errors, psycopg.Error)


def open_storage(target: str | os.PathLike[str]) -> Storage:
    """The storage ``target`` names (a URL or a SQLite path), migrated to the code's schema.

    :raises StorageOpenError: PostgreSQL is unreachable or refuses, the URL is malformed, or the ``postgres`` extra
        is missing.
    :raises ~.migrations.SchemaTooNewError: the database was written by a newer version of the code.
    :raises sqlite3.Error: the SQLite file cannot be opened.
    """
    if is_postgres_url(target):
        try:
            from .postgres import PostgresStorage  # noqa: PLC0415 - needs the optional postgres extra
        except ImportError:
            raise StorageOpenError(
                'a postgresql:// database needs the "postgres" extra: pip install "mosaicstack-telemetry[postgres]"'
            ) from None
        return PostgresStorage(str(target))
    return SQLiteStorage(_sqlite_path(target))
