"""The access log never shows query strings."""

from __future__ import annotations

import logging

import pytest

from mosaicstack_telemetry.server.accesslog import REDACTED, RedactQueryStrings, redact_access_log


def access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's h11 protocol logs a request line."""
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", path, "1.1", 200), None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/v1/events/batch?api_key=" + "ab" * 32, f"/v1/events/batch?{REDACTED}"),
        ("/healthz?", f"/healthz?{REDACTED}"),
        ("/healthz", "/healthz"),
        ("/a?b?c", f"/a?{REDACTED}"),
    ],
)
def test_query_strings_are_redacted(path: str, shown: str) -> None:
    record = access_record(path)
    assert RedactQueryStrings().filter(record)
    assert f'127.0.0.1:5000 - "POST {shown} HTTP/1.1" 200' == record.getMessage()


def test_installed_once_on_uvicorns_access_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("uvicorn.access")
    installed = redact_access_log()
    try:
        assert installed is redact_access_log()
        assert 1 == sum(isinstance(f, RedactQueryStrings) for f in logger.filters)
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/healthz?token=secret", "1.1", 200)
        assert ["secret" not in message for message in caplog.messages] == [True]
        assert f"/healthz?{REDACTED}" in caplog.messages[0]
    finally:
        logger.removeFilter(installed)
