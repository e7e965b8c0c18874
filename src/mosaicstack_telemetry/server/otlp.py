"""The OTLP bridge on the reference server: ``/otlp/v1/logs`` (and ``/otlp/v1/metrics``, ``/otlp/v1/traces``).

A harness exports straight to the server, one process in all::

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT/otlp
    OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <mosaic api key>"

Requests are read and decoded by the bridge's own :class:`~..otel.app.OtlpReceiver` (same routes, encodings, body
and decompression limits, replies; protobuf needs the ``otel`` extra, else 415) and records are assembled into task
events by its :class:`~..otel.assembler.PromptAssembler` (the mapping of docs/otel.md). What differs:

* **Authentication** is API v1's own check (:func:`~.keys.authenticate`): ``Authorization: Bearer <api key>``;
  missing or malformed → 401, unknown or revoked key → 403 (looked up on every request; nothing caches a key), with
  the same messages in OTLP's ``{"message": ...}`` bodies. Nothing else is accepted, not even ``GET /stats``. Mounted
  by :func:`~.app.create_app`, it shares the app's :class:`~.keys.KeyUsage`.
* **One instance per key**: each instance has its own assembler, so its records never join, complete or evict
  another instance's prompts (``max_open_prompts`` applies per instance). Its events carry the key's instance.
* **Storage, not a client**: completed events are written with :meth:`~.storage.Storage.insert_events` (on a worker
  thread) before the request is answered; ids are unique per instance, and the assembler drops a record seen before,
  so an exporter's retry stores nothing twice. Events whose write failed are kept and retried at the next request or
  sweep (up to ``MAX_PENDING`` per instance; older ones are then dropped and logged).
* **Lifespan**: idle prompts are completed by a sweeper; every open prompt is completed and stored at shutdown.
  :meth:`OtlpMount.lifespan` runs both for the ASGI lifespan: ``create_app`` hands it to Starlette, and the reference
  runner and ``mosaic-telemetry serve`` run the lifespan; served on its own, the mount answers the lifespan protocol
  itself. Mounted in a host whose lifespan does not reach it, the first OTLP request starts the sweeper as a task of
  its own on the server's loop; the loop cancels it as the server ends, and it then completes and stores every open
  prompt (synchronously: the loop is ending).

The mount is outside API v1: not in ``/openapi.json``, and API v1's error bodies and limits do not apply to it
(OTLP exporters read ``{"message": ...}``; the bridge's body limits apply).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread

from .._backend import current_loop
from ..events import TaskCompletionEvent
from ..otel.app import OtlpReceiver, RefusedError
from ..otel.asgi import Receive, Scope, Send, serve_lifespan, sweep_interval, sweeping
from ..otel.assembler import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_OPEN_PROMPTS, PromptAssembler
from ..otel.body import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DECOMPRESSED_BYTES
from ..otel.stats import BridgeStats
from .keys import KeyRefusedError, KeyUsage, authenticate
from .storage import Storage

__all__ = ["MAX_PENDING", "OTLP_PATH", "OtlpMount"]

#: Where :func:`~.app.create_app` mounts the bridge.
OTLP_PATH = "/otlp"
#: Events per instance kept for a retry when storing them failed; older ones are dropped beyond it.
MAX_PENDING = 10_000

_log = logging.getLogger("mosaicstack_telemetry.server")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _discard(event: TaskCompletionEvent) -> None:
    pass


class _Instance:
    """One instance's prompts and the events completed but not stored yet (a :class:`~..otel.app.Tenant`)."""

    def __init__(self, storage: Storage, instance_id: UUID, now: Callable[[], datetime], options: Mapping[str, Any]):
        self._storage = storage
        self._now = now
        self.instance_id = instance_id
        self.pending: list[TaskCompletionEvent] = []
        self.stored = 0
        self.assembler = PromptAssembler(self.pending.append, instance_id=str(instance_id), **options)

    def snapshot(self) -> dict[str, Any]:
        document = self.assembler.stats.as_dict(events_sent=self.stored)
        document["open_prompts"] = self.assembler.open_prompts
        return document

    def _take(self) -> list[TaskCompletionEvent]:
        events = self.pending[:]
        self.pending.clear()  # the assembler appends to this very list
        return events

    def _keep(self, events: list[TaskCompletionEvent]) -> None:
        self.pending[:0] = events
        if len(self.pending) > MAX_PENDING:
            dropped = len(self.pending) - MAX_PENDING
            del self.pending[:dropped]
            _log.error("OTLP: dropped %d events of instance %s that could not be stored", dropped, self.instance_id)

    def _insert(self, events: list[TaskCompletionEvent]) -> int:
        """How many of ``events`` were stored (blocking; counted by the caller, on the event loop)."""
        return sum(self._storage.insert_events(events, self._now()))

    async def settle(self) -> None:
        """Store the events completed so far (on a worker thread); on failure they wait for the next call."""
        if not self.pending:
            return
        events = self._take()
        try:
            stored = await anyio.to_thread.run_sync(self._insert, events)
        except Exception:
            _log.warning("OTLP: storing %d events failed; retrying later", len(events), exc_info=True)
            self._keep(events)
        else:
            self.stored += stored

    def settle_now(self) -> None:
        """:meth:`settle`, blocking the caller (for shutdown, when the loop is ending)."""
        if not self.pending:
            return
        events = self._take()
        try:
            self.stored += self._insert(events)
        except Exception:
            _log.exception("OTLP: %d events could not be stored at shutdown", len(events))


class OtlpMount:
    """The ASGI app mounted at :data:`OTLP_PATH`; ``stats`` counts the requests refused before a key was known.

    :param storage: where keys are checked and events stored.
    :param now: aware "now" (events' ``received_at``, and keys' ``last_used_at`` unless ``key_usage`` is given).
    :param key_usage: records the keys' use (the server's one :class:`~.keys.KeyUsage`; default: one of its own).
    :param clock: monotonic seconds for the assemblers (idle timeouts).
    :param options: passed to each instance's :class:`~..otel.assembler.PromptAssembler` (``tables``,
        ``task_type``, ``complexity``, ``infer_task_type``, ``pricer``).
    """

    def __init__(
        self,
        storage: Storage,
        *,
        now: Callable[[], datetime] = _utc_now,
        clock: Callable[[], float] = time.monotonic,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_open_prompts: int = DEFAULT_MAX_OPEN_PROMPTS,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
        key_usage: KeyUsage | None = None,
        **options: Any,
    ) -> None:
        PromptAssembler(  # a bad option fails here, naming it, not at the first request
            _discard, instance_id="", idle_timeout=idle_timeout, max_open_prompts=max_open_prompts, **options
        )
        self._storage = storage
        self._now = now
        self._clock = clock
        self._options = {"idle_timeout": idle_timeout, "max_open_prompts": max_open_prompts, **options}
        self._sweep_interval = sweep_interval(idle_timeout)
        self._instances: dict[UUID, _Instance] = {}
        self._key_usage = KeyUsage(storage, now=now) if key_usage is None else key_usage
        self._sweeping = False
        self.stats = BridgeStats()
        self._receiver = OtlpReceiver(
            self._admit,
            stats=self.stats,
            max_body_bytes=max_body_bytes,
            max_decompressed_bytes=max_decompressed_bytes,
            clock=clock,
        )

    @property
    def open_prompts(self) -> int:
        """Open prompts across every instance."""
        return sum(instance.assembler.open_prompts for instance in self._instances.values())

    def snapshot(self, instance_id: UUID) -> dict[str, Any] | None:
        """An instance's counters (as its ``GET /otlp/stats``), or ``None`` if it sent nothing yet."""
        instance = self._instances.get(instance_id)
        return None if instance is None else instance.snapshot()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own; mounted, the host runs :meth:`lifespan` instead
            await serve_lifespan(self.lifespan(None), receive, send)
            return
        if scope["type"] != "http":
            return
        if not self._sweeping:
            self._sweeping = True  # no lifespan reached the mount: this loop runs the sweeper until it ends
            current_loop().spawn(self._sweep_until_cancelled)  # stores the open prompts as it is cancelled
        await self._receiver(scope, receive, send)

    # -- authentication (API v1's check) ------------------------------------------------------------------------------

    async def _admit(self, headers: Mapping[str, str]) -> _Instance:
        try:
            record = await authenticate(self._storage, self._key_usage, headers.get("authorization"))
        except KeyRefusedError as refusal:
            raise RefusedError(refusal.status, refusal.detail, tuple(refusal.headers.items())) from None
        instance = self._instances.get(record.instance_id)
        if instance is None:
            instance = _Instance(self._storage, record.instance_id, self._now, self._options)
            self._instances[record.instance_id] = instance
        return instance

    # -- completing prompts -------------------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Complete every instance's idle prompts and store what is pending; returns how many prompts completed."""
        now = self._clock()
        completed = 0
        for instance in list(self._instances.values()):
            completed += instance.assembler.expire(now)
            await instance.settle()
        return completed

    def close(self) -> int:
        """Complete every open prompt of every instance and store the events (blocking); returns how many."""
        completed = 0
        for instance in list(self._instances.values()):
            completed += instance.assembler.complete_all("shutdown")
            instance.settle_now()
        return completed

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """The server's lifespan (Starlette's ``lifespan=``): the sweeper runs in it; its end completes every prompt."""
        self._sweeping = True
        async with sweeping(self.sweep, self.close, interval=self._sweep_interval, log=_log, label="OTLP"):
            yield

    async def _sweep_until_cancelled(self) -> None:
        async with self.lifespan(None):
            await anyio.sleep_forever()  # until the server's loop ends: leaving the lifespan stores the open prompts
