"""Run the reference server in-process: uvicorn on its own thread and asyncio loop, on 127.0.0.1 and a free port.

uvicorn runs only on asyncio, and a test may run on trio (or hold an asyncio loop of its own): the server therefore
gets a thread and a loop of its own, whatever the caller runs. The listening socket is bound *before* the thread
starts (port 0: the OS picks a free port), so there is no window in which another process can take the port, and
:meth:`ServerThread.start` returns only once uvicorn accepts connections.

Stopping is bounded, even while "hang" faults hold connections open: :meth:`ServerThread.stop` releases the fault
plan (hangs answer 503, delays and drips end), asks uvicorn to exit, waits ``shutdown_grace_seconds`` for the graceful
shutdown, then forces it (uvicorn cancels what still runs and closes its connections) and waits once more.

uvicorn's own logger (``uvicorn.error``) reports what it sees, e.g. "ASGI callable returned without completing
response." for each reply a *drop* fault cuts; the runner leaves logging configuration to the host application.

Typical use — a pytest fixture, the CLI, a demo::

    with run_in_thread() as server:
        httpx.post(f"{server.url}/v1/events/batch", headers={"Authorization": f"Bearer {server.api_key}"}, ...)
        server.faults.fail_next(2, 503)
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from uuid import UUID

import uvicorn
from starlette.applications import Starlette

from .app import MAX_BODY_BYTES, create_app
from .backends import open_storage
from .faults import FaultPlan
from .keys import ApiKey, create_key
from .protocol import SlowClientLimits, uvicorn_options
from .storage import SQLiteStorage, Storage

__all__ = ["ServerThread", "run_in_thread"]

logger = logging.getLogger("mosaicstack_telemetry.server")


class ServerThread:
    """The reference server on a thread of its own; :meth:`start` it (or use ``with``), then read :attr:`url`.

    :param storage: where events and keys live; by default a new in-memory :class:`~.storage.SQLiteStorage`, closed
        by :meth:`stop` (a storage passed in is left open: its owner closes it).
    :param database_url: instead of ``storage``, the database to open (``postgresql://…``, ``sqlite:///FILE``; see
        :func:`~.backends.open_storage`), closed by :meth:`stop`.
    :param faults: the fault plan (default: a new one, at :attr:`faults`).
    :param instance_id: the instance of the key issued at start (default: a random UUID).
    :param api_key: that key (default: 64 random hex characters).
    :param host: the interface to listen on; the default, loopback, is the only one tests should use.
    :param port: 0 picks a free port.
    :param max_body_bytes: the request body limit.
    :param shutdown_grace_seconds: how long :meth:`stop` lets requests finish before forcing the shutdown.
    :param slow_clients: header and body deadlines and the connection cap (:mod:`.protocol`).
    :param prediction_max_age_seconds: the predictions' freshness bound (see :func:`~.app.create_app`); 0 by default
        here, unlike ``serve``: a server for tests answers exactly what was just stored.
    """

    def __init__(
        self,
        *,
        storage: Storage | None = None,
        database_url: str | None = None,
        faults: FaultPlan | None = None,
        instance_id: UUID | str | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = MAX_BODY_BYTES,
        shutdown_grace_seconds: float = 1.0,
        startup_timeout_seconds: float = 10.0,
        prediction_max_age_seconds: float = 0.0,
        slow_clients: SlowClientLimits = SlowClientLimits(),  # noqa: B008 - frozen
    ) -> None:
        if storage is not None and database_url is not None:
            raise ValueError("give storage or database_url, not both")
        self._owns_storage = storage is None
        if storage is not None:
            self.storage: Storage = storage
        else:
            self.storage = SQLiteStorage() if database_url is None else open_storage(database_url)
        self.faults = FaultPlan() if faults is None else faults
        try:
            self.app: Starlette = create_app(
                self.storage,
                faults=self.faults,
                max_body_bytes=max_body_bytes,
                prediction_max_age_seconds=prediction_max_age_seconds,
            )
            self._key = create_key(self.storage, instance_id, label="runner", key=api_key)
        except BaseException:
            if self._owns_storage:  # nobody else holds it: its connections (a pool's threads) would leak
                self.storage.close()
            raise
        self._host = host
        self._port = port
        self._grace = shutdown_grace_seconds
        self._startup_timeout = startup_timeout_seconds
        self._slow_clients = slow_clients
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stopped = False

    # -- what tests read ----------------------------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The key issued at construction (64 hex characters)."""
        return self._key.key

    @property
    def instance_id(self) -> UUID:
        """The instance that key belongs to."""
        return self._key.instance_id

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the server is not started")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` — the ``server_url`` to give the client."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def create_key(self, instance_id: UUID | str | None = None) -> ApiKey:
        """Issue another key (for another instance, by default a new one)."""
        return create_key(self.storage, instance_id)

    # -- lifecycle ----------------------------------------------------------------------------------------------------

    def start(self) -> ServerThread:
        """Bind, start uvicorn on its own thread, and return once it accepts connections."""
        if self._thread is not None or self._stopped:
            raise RuntimeError("a ServerThread starts once")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # accepted sockets inherit the listener's proto. Without it every reply waits ~40 ms (Nagle + delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(2048)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            ws="none",
            lifespan="on",  # the OTLP mount sweeps idle prompts for the lifespan and stores the open ones at its end
            interface="asgi3",
            log_config=None,  # leave the host application's logging alone
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=max(1, math.ceil(self._grace)),
            **uvicorn_options(self._slow_clients),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"reference-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the reference server did not start") from self._error
            time.sleep(0.002)
        return self

    def _run(self) -> None:
        assert self._server is not None  # noqa: S101 - set by start()
        assert self._socket is not None  # noqa: S101
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as error:  # SystemExit (startup failure) too: start() reports it
            self._error = error
            logger.exception("the reference server failed")

    def stop(self) -> None:
        """Stop, fast even with hanging requests; idempotent.

        Releases the fault plan, then waits up to ``shutdown_grace_seconds`` + 0.5 s for uvicorn's graceful exit
        (which itself cancels requests still running after ``shutdown_grace_seconds``, rounded up to whole seconds),
        then forces the exit and waits up to ``shutdown_grace_seconds`` + 5 s more. Typically 0.1-0.2 s.
        """
        if self._stopped:
            return
        self._stopped = True
        self.faults.release()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(self._grace + 0.5)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(self._grace + 5.0)
            if self._thread.is_alive():  # pragma: no cover - uvicorn ignored force_exit
                logger.error("the reference server thread did not stop; leaving it (daemon)")
        if self._socket is not None:
            self._socket.close()
        if self._owns_storage:
            self.storage.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def run_in_thread(
    *,
    storage: Storage | None = None,
    database_url: str | None = None,
    faults: FaultPlan | None = None,
    instance_id: UUID | str | None = None,
    api_key: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    shutdown_grace_seconds: float = 1.0,
    prediction_max_age_seconds: float = 0.0,
    slow_clients: SlowClientLimits = SlowClientLimits(),  # noqa: B008 - frozen
) -> Iterator[ServerThread]:
    """A started :class:`ServerThread` on 127.0.0.1 and a free port, stopped on exit (see the class for arguments)."""
    server = ServerThread(
        storage=storage,
        database_url=database_url,
        faults=faults,
        instance_id=instance_id,
        api_key=api_key,
        max_body_bytes=max_body_bytes,
        shutdown_grace_seconds=shutdown_grace_seconds,
        prediction_max_age_seconds=prediction_max_age_seconds,
        slow_clients=slow_clients,
    )
    with server:
        yield server
