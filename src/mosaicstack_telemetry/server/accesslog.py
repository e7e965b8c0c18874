"""Access log redaction: uvicorn's access log without query strings.

uvicorn logs each request line with its query string (``"POST /v1/events/batch?token=… HTTP/1.1" 200``), and a
query string is where a misconfigured client puts secrets. :class:`RedactQueryStrings`, a :class:`logging.Filter`
on the ``uvicorn.access`` logger, replaces everything after the ``?`` with ``[redacted]`` before any handler formats
the record. The API itself takes nothing from query strings.
"""

from __future__ import annotations

import logging

__all__ = ["ACCESS_LOGGER", "REDACTED", "RedactQueryStrings", "redact_access_log"]

#: uvicorn's access logger.
ACCESS_LOGGER = "uvicorn.access"
#: What replaces a query string.
REDACTED = "[redacted]"


def _redact(path: object) -> object:
    if isinstance(path, str) and "?" in path:
        return path.split("?", 1)[0] + "?" + REDACTED
    return path


class RedactQueryStrings(logging.Filter):
    """Drop the query string from every argument of an access-log record (the request path among them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        return True


def redact_access_log(logger: logging.Logger | None = None) -> RedactQueryStrings:
    """Install :class:`RedactQueryStrings` on ``logger`` (uvicorn's access logger by default), once; return it."""
    target = logging.getLogger(ACCESS_LOGGER) if logger is None else logger
    for existing in target.filters:
        if isinstance(existing, RedactQueryStrings):
            return existing
    installed = RedactQueryStrings()
    target.addFilter(installed)
    return installed
