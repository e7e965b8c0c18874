"""Reading an OTLP request body within limits: its size on the wire and after decompression.

:func:`read_body` refuses a body over ``max_bytes`` (by ``Content-Length`` before reading, or while reading a chunked
one); :func:`decompress` undoes ``Content-Encoding: gzip`` (or ``deflate``) without ever holding more than
``max_bytes`` of output, so a small compressed bomb cannot exhaust memory. Both raise :class:`BodyError` with the
HTTP status to answer (413, 415 or 400).
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_DECOMPRESSED_BYTES", "BodyError", "decompress", "read_body"]

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyError(Exception):
    """A body the bridge will not read; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_body(receive: Receive, content_length: str | None, max_bytes: int) -> bytes:
    """The request body, at most ``max_bytes`` long."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BodyError(400, f"Content-Length must be an integer, got {content_length[:20]!r}") from None
        if declared > max_bytes:
            raise BodyError(413, f"the body is {declared} bytes; the limit is {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyError(400, "the client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(413, f"the body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """``body`` decoded from ``encoding`` (``identity``/``none``/empty, ``gzip``, ``deflate``), at most ``max_bytes`` out."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "none"):
        return body
    if encoding == "gzip":
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    else:
        raise BodyError(415, f"Content-Encoding {encoding[:30]!r} is not supported (gzip, deflate or none)")
    try:
        out = decoder.decompress(body, max_bytes + 1)
        if len(out) > max_bytes or decoder.unconsumed_tail:
            raise BodyError(413, f"the body is over {max_bytes} bytes once decompressed")
        out += decoder.flush()
    except zlib.error as error:
        raise BodyError(400, f"the body is not valid {encoding}: {error}") from None
    if len(out) > max_bytes:
        raise BodyError(413, f"the body is over {max_bytes} bytes once decompressed")
    if not decoder.eof:
        raise BodyError(400, f"the {encoding} body is truncated")
    return out
