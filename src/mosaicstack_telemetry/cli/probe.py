"""One request that tells whether a server can take events, before a command commits to sending any.

Any Telemetry API v1 server answers an **empty event batch** without storing anything (``/healthz`` exists only on
the reference server), so :func:`check_server` posts ``{"events": []}`` with the command's api key, once, under
``--timeout``:

* a validation error (400, 422) or a 2xx: the server is there and took the key — go ahead;
* 401 or 403: the api key is wrong (missing, malformed, unknown, or of another instance) — stop;
* no answer (connection refused, DNS, timeout) or any other 4xx (404: no API at that URL) — stop;
* 408, 429 or 5xx: the server is there but busy or failing — go ahead; the send retries, bounded by ``--patience``.

Stopping is a :class:`click.ClickException`: exit 1 with one line naming the URL and the error.
"""

from __future__ import annotations

import anyio
import click

from .._http import AttemptError, http_client, post
from .._protocol import EVENTS_PATH
from ..config import TelemetryConfig

__all__ = ["EMPTY_BATCH", "check_server"]

EMPTY_BATCH = b'{"events":[]}'


def check_server(config: TelemetryConfig) -> None:
    """Return if ``config``'s server can take events (see the module docstring); else raise ``ClickException``."""
    url = f"{config.server_url}{EVENTS_PATH}"

    async def probe() -> AttemptError | None:
        async with http_client(config, None) as http:
            try:
                await post(http, url, EMPTY_BATCH, deadline=config.request_timeout_seconds)
            except AttemptError as error:
                return error
        return None

    error = anyio.run(probe)
    status = None if error is None else error.status
    if error is None or status in (400, 422) or (error.retryable and status is not None):
        return
    if status in (401, 403):
        raise click.ClickException(f"{config.server_url} refused the api key: {error}")
    if status is None:
        raise click.ClickException(f"cannot reach {config.server_url}: {error}")
    raise click.ClickException(f"{config.server_url} cannot take events: {error}")
