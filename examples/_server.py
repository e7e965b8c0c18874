"""Where the examples send their events: the server named by the environment, or a local reference server.

Every example reads its configuration the way an application should, from the environment
(``MOSAIC_TELEMETRY_SERVER_URL``, ``MOSAIC_TELEMETRY_API_KEY``, ``MOSAIC_TELEMETRY_INSTANCE_ID``, read by
``TelemetryConfig()``). When ``MOSAIC_TELEMETRY_SERVER_URL`` is not set, :func:`telemetry_server` starts the
package's reference server on 127.0.0.1 (needs the ``server`` extra) and sets those variables for the example, so
``python examples/sync_script.py`` works on a fresh checkout.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from mosaicstack_telemetry.config import ENV_API_KEY, ENV_INSTANCE_ID, ENV_SERVER_URL


@contextlib.contextmanager
def telemetry_server() -> Iterator[None]:
    """Use the configured server, or run a local reference server for as long as the block lasts."""
    if os.environ.get(ENV_SERVER_URL):
        yield
        return
    from mosaicstack_telemetry.server import run_in_thread  # noqa: PLC0415 - only when no server is configured

    with run_in_thread() as server:
        print(f"(no {ENV_SERVER_URL} set: using a local reference server at {server.url})")
        os.environ[ENV_SERVER_URL] = server.url
        os.environ[ENV_API_KEY] = server.api_key
        os.environ[ENV_INSTANCE_ID] = str(server.instance_id)
        try:
            yield
        finally:
            for name in (ENV_SERVER_URL, ENV_API_KEY, ENV_INSTANCE_ID):
                os.environ.pop(name, None)
