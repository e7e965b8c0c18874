"""Slow clients: uvicorn's h11 protocol with the read timeouts it lacks, and a cap on connections.

uvicorn times out only idle keep-alive connections: a client that sends its request line and headers a byte at a
time, or starts a body and stops, holds its connection (and a file descriptor) for as long as it likes. The
protocol class :func:`guarded_h11` builds adds, per connection:

* a **header deadline**: the request line and headers must be complete within ``header_timeout`` seconds of the
  connection opening (or, on a kept-alive connection, of the next request's first byte); else the server answers
  ``408`` and closes;
* a **body deadline**: once the headers are in, the body must keep arriving — no gap longer than
  ``body_idle_timeout`` — and be complete within ``body_timeout``; else the connection is closed (the app sees a
  disconnect and answers nothing). A gap the server caused (it paused reading while the app was busy) does not count.

:func:`uvicorn_options` adds uvicorn's ``limit_concurrency``: beyond ``max_connections`` open connections (or
requests in progress), a request is answered ``503 Service Unavailable`` at once, so an attacker opening thousands
of connections cannot make legitimate requests wait, and each of their connections ends at the header deadline.

Subclassing uvicorn's protocol (rather than changing servers) keeps the one server the package and its tests run on;
it relies on uvicorn's documented ``http`` option taking a protocol class, and on h11's connection states to know
where a request stands. The server and the ``serve`` command both use it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import attrs
import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["SlowClientLimits", "guarded_h11", "uvicorn_options"]

logger = logging.getLogger("mosaicstack_telemetry.server")

_TIMEOUT_BODY = b'{"detail":"request headers not complete in time"}'
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY
)


@attrs.frozen
class SlowClientLimits:
    """How long a client may take to send a request, and how many connections the server keeps open at once."""

    #: seconds from a connection's start (or a kept-alive request's first byte) to the end of its headers
    header_timeout: float = 5.0
    #: the longest pause, in seconds, inside a request body
    body_idle_timeout: float = 10.0
    #: seconds from the end of the headers to the end of the body
    body_timeout: float = 60.0
    #: open connections (or requests in progress) beyond which requests are answered 503
    max_connections: int = 1000


class _GuardedH11Protocol(H11Protocol):
    """:class:`H11Protocol` with a header deadline and a body deadline (see the module)."""

    limits = SlowClientLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None  # headers, or the whole body
        self._idle: asyncio.TimerHandle | None = None  # the current pause inside a body
        self._reading_body = False

    # -- uvicorn's hooks ----------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_headers()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE and not self._reading_body:
            self._arm_headers()  # the first byte of a kept-alive connection's next request
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    # -- the deadlines ------------------------------------------------------------------------------------------------

    def _follow(self) -> None:
        """Move the deadlines along with where the request stands (h11's view of the client)."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if not self._reading_body:  # the headers are complete: from the header deadline to the body's
                self._cancel()
                self._reading_body = True
                self._deadline = self.loop.call_later(self.limits.body_timeout, self._body_too_slow, "complete")
            if self._idle is not None:
                self._idle.cancel()
            self._idle = self.loop.call_later(self.limits.body_idle_timeout, self._body_too_slow, "paused")
        elif state is not h11.IDLE:  # the request is complete (or the connection is done): no deadline
            self._cancel()
            self._reading_body = False

    def _arm_headers(self) -> None:
        self._cancel()
        self._reading_body = False
        self._deadline = self.loop.call_later(self.limits.header_timeout, self._headers_too_slow)

    def _cancel(self) -> None:
        for timer in (self._deadline, self._idle):
            if timer is not None:
                timer.cancel()
        self._deadline = self._idle = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        logger.debug("closing %s: request headers not complete within %s s", self.client, self.limits.header_timeout)
        self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()

    def _body_too_slow(self, what: str) -> None:
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        if self.flow.read_paused:  # we stopped reading, not the client: wait for the app
            self._idle = self.loop.call_later(self.limits.body_idle_timeout, self._body_too_slow, "paused")
            return
        logger.debug("closing %s: request body %s too long", self.client, what)
        self._cancel()
        self.transport.close()


def guarded_h11(limits: SlowClientLimits = SlowClientLimits()) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with ``limits``' header and body deadlines (give it as ``uvicorn.Config(http=)``)."""
    return type("GuardedH11Protocol", (_GuardedH11Protocol,), {"limits": limits})


def uvicorn_options(limits: SlowClientLimits = SlowClientLimits()) -> dict[str, Any]:
    """The ``uvicorn.Config`` options that apply ``limits``: the guarded protocol and the connection cap."""
    return {"http": guarded_h11(limits), "limit_concurrency": limits.max_connections}
