"""The client's HTTP: one ``AsyncClient`` factory, and one attempt as the event submitter and the prediction fetcher
make it.

* :func:`http_client` builds every ``AsyncClient`` the package uses — the running core's and the short-lived one
  behind ``refresh_predictions`` before ``start`` — with the same headers, ``request_timeout_seconds`` and
  redirect rule;
* :func:`post` runs each attempt under an overall deadline (``anyio.fail_after``), not only httpx's per-phase ones;
* timeouts, connection errors, 408, 429 and 5xx are retryable; any other non-2xx is not; 429's ``Retry-After``
  comes along as a minimum delay;
* a failure is an :class:`AttemptError` whose message contains ``HTTP <status>`` when there is one (what
  ``on_error`` callbacks match on).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import httpx

from ._backoff import parse_retry_after
from ._protocol import auth_headers
from .errors import TelemetryError

if TYPE_CHECKING:
    from .config import TelemetryConfig

__all__ = ["AttemptError", "http_client", "post", "report_failure"]

logger = logging.getLogger("mosaicstack_telemetry")

#: Statuses retried besides 5xx: the request timed out at the server, or it asks us to slow down.
RETRIED_STATUSES = frozenset({408, 429})


class AttemptError(TelemetryError):
    """One attempt failed: whether retrying may help, and how long the server asked us to wait."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def http_client(config: TelemetryConfig, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """An ``AsyncClient`` for ``config``: its auth headers and User-Agent, ``request_timeout_seconds`` (each
    attempt also runs under that overall deadline, see :func:`post`), no redirects followed. ``transport=None``
    uses httpx's own."""
    return httpx.AsyncClient(
        transport=transport,
        headers=auth_headers(config.api_key, config.user_agent),
        timeout=httpx.Timeout(config.request_timeout_seconds),
        follow_redirects=False,
    )


async def post(http: httpx.AsyncClient, url: str, body: bytes, *, deadline: float) -> httpx.Response:
    """POST ``body`` once, taking at most ``deadline`` seconds; a 2xx response, or :class:`AttemptError`."""
    try:
        with anyio.fail_after(deadline):
            response = await http.post(url, content=body)
    except TimeoutError:
        raise AttemptError(f"request to {url} timed out after {deadline}s", retryable=True) from None
    except Exception as error:  # httpx errors, and whatever a transport raises (OSError, RuntimeError at exit)
        message = f"request to {url} failed: {type(error).__name__}: {error}"
        raise AttemptError(message, retryable=True) from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    message = f"HTTP {status} from {url}: {_excerpt(response)}"
    if status in RETRIED_STATUSES or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if status == 429 else None
        raise AttemptError(message, retryable=True, status=status, retry_after=retry_after)
    raise AttemptError(message, retryable=False, status=status)


def report_failure(error: TelemetryError, on_error: Callable[[TelemetryError], object] | None) -> None:
    """Log a failed attempt and call ``on_error`` (its own exceptions are logged and swallowed)."""
    logger.warning("mosaicstack-telemetry: %s", error)
    if on_error is None:
        return
    try:
        on_error(error)
    except Exception:
        logger.exception("mosaicstack-telemetry: on_error raised; ignored")


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    if not text:
        return response.reason_phrase
    return text[:limit] + ("…" if len(text) > limit else "")
