"""The bridge as an ASGI app: OTLP/HTTP in, task events out through a :class:`~..client.TelemetryClient`.

Routes (relative to where it is mounted): ``POST /v1/logs`` (the harness events), ``POST /v1/metrics`` and
``POST /v1/traces`` (accepted, answered, counted; they carry nothing the mapping uses), ``GET /stats`` (the
counters as JSON). Bodies are ``application/json`` or ``application/x-protobuf`` (the latter needs the ``otel``
extra: without ``opentelemetry-proto`` it is answered 415), optionally gzip-compressed, within the size limits of
:mod:`.body`. With a ``token``, every request must carry ``Authorization: Bearer <token>`` (401 otherwise; compared
in constant time, never logged).

:class:`OtlpReceiver` is the one place requests are read and decoded; who may send and where the records go is its
*admission* hook: :class:`BridgeApp` admits by its token into its one :class:`~.assembler.PromptAssembler`; the
reference server's ``/otlp`` mount (:mod:`mosaicstack_telemetry.server.otlp`) admits by Mosaic api key into that
key's instance.

The app runs the :class:`~.assembler.PromptAssembler` on its event loop. Idle prompts are completed by a sweeper that
runs for the ASGI lifespan (uvicorn's ``lifespan="on"``), and every open prompt is completed at lifespan shutdown
(:func:`.asgi.sweeping`, the lifespan the ``/otlp`` mount runs too).
Mounted where lifespan events do not reach it, the host calls :meth:`BridgeApp.sweep` periodically (requests also
sweep) and :meth:`BridgeApp.close` before stopping the client. The client is the caller's to start and stop.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..enums import Complexity, TaskType
from ..llm.pricing import Pricer
from .asgi import Receive, Scope, Send, serve_lifespan, sweep_interval, sweeping
from .assembler import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_OPEN_PROMPTS, PromptAssembler
from .body import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DECOMPRESSED_BYTES, BodyError, decompress, read_body
from .decode import JSON, PROTOBUF, BadRequestError, check_request, decode_logs, media_type, protobuf_missing
from .harness import HARNESSES, HarnessTable
from .replies import error_body, export_reply
from .stats import BridgeStats

if TYPE_CHECKING:
    from ..client import TelemetryClient

__all__ = ["BridgeApp", "OtlpReceiver", "RefusedError", "Tenant", "bridge_app"]

_log = logging.getLogger(__name__)
_SIGNALS = {"/v1/logs": "logs", "/v1/metrics": "metrics", "/v1/traces": "traces"}


class RefusedError(Exception):
    """A request the admission hook turns away: answered ``status`` with ``message`` (and ``headers``)."""

    def __init__(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = tuple(headers)


class Tenant(Protocol):
    """Where an admitted request's records go."""

    @property
    def assembler(self) -> PromptAssembler:
        """The prompts the records join (its ``stats`` count the requests too)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /stats`` answers."""
        ...

    async def settle(self) -> None:
        """Called after each export, once the records were added (e.g. to store the events just completed)."""
        ...


#: The admission hook: the request's headers (lower-case names) → its tenant, or :class:`RefusedError`.
Admit = Callable[[Mapping[str, str]], Awaitable[Tenant]]


class OtlpReceiver:
    """Answers OTLP/HTTP requests (an ASGI ``http`` handler): routing, admission, body limits, decoding, replies.

    :param admit: decides who may send and into which :class:`Tenant` (raise :class:`RefusedError` to turn away).
    :param stats: counts the requests refused before a tenant is known.
    """

    def __init__(
        self,
        admit: Admit,
        *,
        stats: BridgeStats,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._admit = admit
        self._stats = stats
        self._max_body = max_body_bytes
        self._max_decompressed = max_decompressed_bytes
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            tenant = await self._admit(headers)
        except RefusedError as refusal:
            await _refuse(self._stats, send, refusal.status, refusal.message, refusal.headers)
            return
        stats = tenant.assembler.stats
        method = scope["method"]
        if path == "/stats":
            if method != "GET":
                await _refuse(stats, send, 405, "use GET")
                return
            await _reply(send, 200, json.dumps(tenant.snapshot()).encode(), JSON)
            return
        signal = _SIGNALS.get(path)
        if signal is None:
            await _refuse(stats, send, 404, f"no such path: {path[:100]}")
            return
        if method != "POST":
            await _refuse(stats, send, 405, "use POST")
            return
        kind = media_type(headers.get("content-type", ""))
        if kind not in (JSON, PROTOBUF):
            await _refuse(stats, send, 415, "Content-Type must be application/json or application/x-protobuf")
            return
        if kind == PROTOBUF and (missing := protobuf_missing()):
            await _refuse(stats, send, 415, missing)
            return
        try:
            raw = await read_body(receive, headers.get("content-length"), self._max_body)
            body = decompress(raw, headers.get("content-encoding", ""), self._max_decompressed)
            reply = self._export(tenant.assembler, body, kind, signal)
        except BodyError as error:
            await _refuse(stats, send, error.status, str(error))
            return
        except BadRequestError as error:
            await _refuse(stats, send, 400, str(error))
            return
        await tenant.settle()
        await _reply(send, 200, *reply)

    def _export(self, assembler: PromptAssembler, body: bytes, kind: str, signal: str) -> tuple[bytes, str]:
        stats = assembler.stats
        stats.requests[signal] += 1
        now = self._clock()
        assembler.expire(now)
        if signal != "logs":
            check_request(body, kind, signal)
            return export_reply(kind, signal)
        decoded = decode_logs(body, kind)
        stats.records_received += decoded.rejected
        stats.rejected += decoded.rejected
        rejected, reason = assembler.add(decoded.records, now)
        return export_reply(kind, signal, decoded.rejected + rejected, decoded.error or reason)


class BridgeApp:
    """The ASGI app; build it with :func:`bridge_app`. ``stats`` are its counters, ``assembler`` its prompts."""

    def __init__(
        self,
        client: TelemetryClient,
        *,
        token: str | None = None,
        tables: Sequence[HarnessTable] = HARNESSES,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_open_prompts: int = DEFAULT_MAX_OPEN_PROMPTS,
        task_type: TaskType | str = TaskType.UNKNOWN,
        complexity: Complexity | str = Complexity.MEDIUM,
        infer_task_type: bool = False,
        pricer: Pricer | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._token = f"Bearer {token}".encode() if token else None
        self._clock = clock
        self._sweep_interval = sweep_interval(idle_timeout)
        self.stats = BridgeStats()
        self.assembler = PromptAssembler(
            client.track,
            instance_id=client.config.instance_id,
            tables=tables,
            idle_timeout=idle_timeout,
            max_open_prompts=max_open_prompts,
            task_type=task_type,
            complexity=complexity,
            infer_task_type=infer_task_type,
            pricer=pricer,
            stats=self.stats,
        )
        self._receiver = OtlpReceiver(
            self._admit,
            stats=self.stats,
            max_body_bytes=max_body_bytes,
            max_decompressed_bytes=max_decompressed_bytes,
            clock=clock,
        )

    def sweep(self) -> int:
        """Complete the prompts that have been idle for the idle timeout; returns how many."""
        return self.assembler.expire(self._clock())

    def close(self) -> int:
        """Complete every open prompt (their events go to the client); returns how many."""
        return self.assembler.complete_all("shutdown")

    def snapshot(self) -> dict[str, Any]:
        """The counters, with the client's sent count and the prompts open now."""
        document = self.stats.as_dict(events_sent=self._client.stats.sent)
        document["open_prompts"] = self.assembler.open_prompts
        return document

    async def settle(self) -> None:
        """Nothing to do: the client queues the events the assembler tracked."""

    async def _admit(self, headers: Mapping[str, str]) -> BridgeApp:
        if self._token is not None and not hmac.compare_digest(
            headers.get("authorization", "").encode("latin-1"), self._token
        ):
            raise RefusedError(401, "a valid 'Authorization: Bearer <token>' header is required")
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(self._lifespan(), receive, send)
        elif scope["type"] == "http":
            await self._receiver(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        """The sweeper runs in it; its end completes every open prompt."""
        async with sweeping(self._sweep, self.close, interval=self._sweep_interval, log=_log, label="bridge"):
            yield

    async def _sweep(self) -> None:
        self.sweep()


async def _refuse(
    stats: BridgeStats, send: Send, status: int, message: str, headers: Sequence[tuple[str, str]] = ()
) -> None:
    stats.refused[status] += 1
    await _reply(send, status, error_body(message), JSON, headers)


async def _reply(
    send: Send, status: int, body: bytes, content_type: str, headers: Sequence[tuple[str, str]] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def bridge_app(
    client: TelemetryClient,
    *,
    token: str | None = None,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_open_prompts: int = DEFAULT_MAX_OPEN_PROMPTS,
    task_type: TaskType | str = TaskType.UNKNOWN,
    infer_task_type: bool = False,
    **options: Any,
) -> BridgeApp:
    """An ASGI app receiving OTLP/HTTP from AI coding harnesses and tracking one event per prompt on ``client``.

    See :class:`BridgeApp` for the routes, the lifespan and the remaining ``options`` (``tables``, ``complexity``,
    ``pricer``, ``max_body_bytes``, ``max_decompressed_bytes``, ``clock``).
    """
    return BridgeApp(
        client,
        token=token,
        idle_timeout=idle_timeout,
        max_open_prompts=max_open_prompts,
        task_type=task_type,
        infer_task_type=infer_task_type,
        **options,
    )
