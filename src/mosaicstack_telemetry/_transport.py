"""The HTTP transport of the core: httpx's own, except that it can still connect while the interpreter exits.

The network backend remembers, per ``(host, port)``, the address each successful connect reached (and
:meth:`PinningBackend.resolve_url` looks the server up once at start); once :meth:`PinningBackend.pin` is called —
at exit, where no thread, and so no DNS lookup, may start — it connects to that address instead of looking the name
up. TLS still verifies the certificate against the host *name*. Until pinned, names are resolved as usual.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

__all__ = ["ExitSafeTransport", "PinningBackend"]

logger = logging.getLogger("mosaicstack_telemetry")


class PinningBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, remembering addresses and able to skip name resolution after :meth:`pin`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._known: dict[tuple[str, int], str] = {}
        self._pinned = False

    def pin(self) -> None:
        """From now on, connect to remembered addresses (no DNS). Safe from any thread."""
        self._pinned = True

    def remember(self, host: str, port: int, address: str) -> None:
        self._known.setdefault((host, port), address)

    async def resolve_url(self, url: str, limit: float) -> None:
        """Remember the address of ``url``'s host, taking at most ``limit`` seconds; a failure is only logged (names
        are then resolved as usual, until :meth:`pin`)."""
        parsed = httpx.URL(url)
        with anyio.move_on_after(limit):
            try:
                await self.resolve(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
            except Exception as error:
                logger.debug("mosaicstack-telemetry: could not resolve %s at start: %s", parsed.host, error)

    async def resolve(self, host: str, port: int) -> None:
        """Look ``host`` up once (at start), so an address is known even if nothing connected before exit."""
        if (host, port) in self._known or _is_ip_literal(host):
            return  # an address needs no lookup (and asyncio would still send it to a worker thread)
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if infos:
            self.remember(host, port, str(infos[0][4][0]))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        target = self._known.get((host, port), host) if self._pinned else host
        stream = await self._inner.connect_tcp(target, port, timeout, local_address, socket_options)
        peer = stream.get_extra_info("server_addr")
        if isinstance(peer, tuple) and peer:
            self._known[(host, port)] = str(peer[0])
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - the client never uses unix sockets
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore calls it only for retries
        await self._inner.sleep(seconds)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process: loading the CA bundle takes ~35 ms."""
    return httpx.create_ssl_context()


class ExitSafeTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` with default settings whose connection pool uses a :class:`PinningBackend`.

    httpx offers no ``network_backend`` parameter, so this builds the pool ``AsyncHTTPTransport.__init__`` would
    (same defaults) with one. It does not call that ``__init__``: it would build a pool to be thrown away, loading
    the CA bundle on every client start. A plain-HTTP server gets no TLS context at all.
    """

    def __init__(self, backend: PinningBackend, *, https: bool = True) -> None:
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=30.0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context() if https else None,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
