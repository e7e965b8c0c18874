"""What the commands that serve in the foreground share (``serve``, ``bridge``): a listening socket bound before
anything is printed, the URL a client on this machine uses, and SIGINT/SIGTERM ending the block quietly."""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator
from types import FrameType

import click

__all__ = ["GRACE_SECONDS", "bind_listener", "local_url", "until_stopped"]

#: Seconds uvicorn lets running requests finish after a stop signal.
GRACE_SECONDS = 2


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket (as :class:`~..server.runner.ServerThread` binds it), or exit 1 saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP (see server/runner.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses (a wildcard address is reached through loopback)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - mapping it away, not binding it
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def until_stopped() -> Iterator[None]:
    """SIGINT and SIGTERM end the block quietly, whenever they come.

    While uvicorn serves, it handles both (a graceful shutdown), then re-raises the signal once it has restored the
    previous handlers: SIGINT's raises ``KeyboardInterrupt`` and ours makes SIGTERM do the same. A signal that
    arrives before uvicorn has installed its handlers (right after the banner) lands here the same way.
    """
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
