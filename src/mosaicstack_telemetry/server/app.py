"""The HTTP layer: Telemetry API v1 as an ASGI app (Starlette), parsing and answering with the package's own models.

Requests are read by :mod:`.boundary` (one strict JSON behaviour, with or without orjson) into the package's own
models (:class:`~mosaicstack_telemetry.TaskCompletionEvent`, :class:`~mosaicstack_telemetry.PredictionQuery`), and
replies written with them, so the server and the client share one wire format and cannot drift apart.

Every request, in this order (the first failure answers; every error body is JSON ``{"detail": "...", "errors":
[...]}`` — never a traceback, never a 500 for anything a client can send):

1. faults (:mod:`.faults`), when the server's plan has any;
2. ``Authorization: Bearer <64 hex>`` — missing or malformed → 401, unknown or revoked key → 403;
3. ``Content-Type: application/json`` → else 415;
4. the body, at most ``max_body_bytes`` (inflated too) → else 413; a ``Content-Encoding`` other than identity or
   gzip → 415;
5. UTF-8 JSON → else 400;
6. the envelope: an object with 1–100 ``events`` / ``queries`` → else 422.

``POST /v1/events/batch`` then judges each event on its own: a valid one is stored unless its instance already
stored its ``event_id`` (or it is repeated earlier in the batch): ``duplicate``; an invalid one is rejected with the validation errors. One
event whose ``instance_id`` is not the key's instance fails the whole request with 403 (the seeds: 403 means a
key/instance mismatch, a configuration error the client must not retry), and nothing is stored. The reply is
HTTP 200 ``{accepted, rejected, results}`` (200 also when every event was rejected), results in request order. An event without an ``event_id`` gets a new one (the
model's default), reported in its result; an event whose ``event_id`` cannot be read (not an object, not a UUID) is
reported under the nil UUID ``00000000-0000-0000-0000-000000000000`` — its position in ``results`` identifies it.

``POST /v1/predictions/batch`` answers ``{"results": [...]}`` in query order (:mod:`.predictions`).
``GET /healthz`` answers ``{"status": "ok"}`` without authentication, and is exempt from faults.
``GET /openapi.json`` answers the API's OpenAPI 3.1 document (:mod:`.openapi`) without authentication.
``GET /v1/stats/...`` is the dashboard's read API (:mod:`.stats_api`: the same authentication, error bodies and
fault plan), and ``GET /dashboard`` its page (:mod:`.dashboard`, static, exempt from faults).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar
from uuid import UUID

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from .. import _wire
from .._protocol import EVENTS_PATH, MAX_PREDICTION_QUERIES, PREDICTIONS_PATH, encode_prediction_response
from ..batch import MAX_BATCH_SIZE, BatchEventResponse, BatchEventResult
from ..errors import ValidationError
from ..predictions import PredictionQuery
from .boundary import BodyError, Verdict, batch_items, decode_content, judge, loads
from .dashboard import dashboard_paths, dashboard_routes
from .fault_middleware import FaultMiddleware
from .faults import FaultPlan
from .keys import KeyRefusedError, KeyUsage, authenticate
from .openapi import OPENAPI_PATH, openapi_document
from .otlp import OTLP_PATH, OtlpMount
from .predictions import PREDICTION_MAX_AGE_SECONDS, Predictor
from .stats_api import StatsApi
from .storage import Storage

__all__ = ["HEALTH_PATH", "MAX_BODY_BYTES", "create_app"]

_T = TypeVar("_T")

HEALTH_PATH = "/healthz"
#: Default request body limit: 100 events take ~70 KB; this leaves room for pretty-printed JSON.
MAX_BODY_BYTES = 1024 * 1024
#: Bodies up to this size (and not compressed) are parsed on the event loop: a few events, tens of microseconds.
#: Larger ones are parsed on a worker thread behind the parse limiter.
INLINE_PARSE_BYTES = 16 * 1024
#: Bodies parsed at once on worker threads (each holds the GIL while it parses: more would not go faster).
PARSE_CONCURRENCY = 2
#: Prediction requests computed at once on worker threads (SQLite sorts without the GIL; two cores).
PREDICTION_CONCURRENCY = 2
#: An oversized body is read and discarded up to this many times the limit before the 413, so the client (which
#: sends its whole body before reading) gets the 413 instead of a reset connection; beyond it we stop reading.
_DRAIN_FACTOR = 16
#: How often fault waits check whether the plan was released (the server is stopping).
_POLL_SECONDS = 0.02

_JSON = "application/json"


class ApiError(Exception):
    """An error answered as JSON ``{"detail": ..., "errors": [...]}`` with ``status``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def _json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(_wire.dumps(payload), status_code=status, media_type=_JSON, headers=headers)


def _error_body(detail: str, errors: Sequence[str] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = list(errors)
    return body


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


# -- the API ----------------------------------------------------------------------------------------------------------


class _Api:
    """The endpoints, bound to one server's storage, faults and limits."""

    def __init__(
        self,
        storage: Storage,
        faults: FaultPlan,
        predictor: Predictor,
        max_body_bytes: int,
        clock: Callable[[], datetime],
        *,
        key_usage: KeyUsage,
    ) -> None:
        self.storage = storage
        self.faults = faults
        self.predictor = predictor
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.key_usage = key_usage
        self.openapi_body: bytes | None = None
        #: worker threads parsing large bodies at once; a separate limiter from anyio's default one, which
        #: authentication, inserts and predictions use
        self.parse_limiter = anyio.CapacityLimiter(PARSE_CONCURRENCY)
        #: worker threads computing predictions at once: prediction load queues here, never in front of inserts
        self.prediction_limiter = anyio.CapacityLimiter(PREDICTION_CONCURRENCY)

    async def healthz(self, request: Request) -> Response:
        return _json_response(200, {"status": "ok", "api_version": "v1"})

    async def openapi(self, request: Request) -> Response:
        if self.openapi_body is None:
            document = openapi_document(health_path=HEALTH_PATH, max_body_bytes=self.max_body_bytes)
            self.openapi_body = json.dumps(document).encode()
        return Response(self.openapi_body, media_type=_JSON)

    async def post_events(self, request: Request) -> Response:
        instance_id = await self._authenticate(request)
        verdicts = await self._parse(request, _parse_events)
        mismatched = [
            f"events[{index}].instance_id={str(verdict.instance_id)!r}"
            for index, verdict in enumerate(verdicts)
            if verdict.instance_id is not None and verdict.instance_id != instance_id
        ]
        if mismatched:
            raise ApiError(403, "instance_id does not match the api key", errors=mismatched)
        for verdict in verdicts:
            if verdict.event is not None and self.faults.reject_event():
                verdict.event, verdict.error = None, "rejected by fault injection"
        valid = [verdict for verdict in verdicts if verdict.event is not None]
        if valid:
            events = [verdict.event for verdict in valid if verdict.event is not None]
            stored = await anyio.to_thread.run_sync(self.storage.insert_events, events, self.clock())
            for verdict, was_stored in zip(valid, stored, strict=True):
                if not was_stored:
                    verdict.error = "duplicate"
        results = [
            BatchEventResult(
                event_id=verdict.event_id,
                status="accepted" if verdict.error is None else "rejected",
                error=verdict.error,
            )
            for verdict in verdicts
        ]
        accepted = sum(1 for verdict in verdicts if verdict.error is None)
        reply = BatchEventResponse(accepted=accepted, rejected=len(verdicts) - accepted, results=results)
        return _json_response(200, reply)

    async def post_predictions(self, request: Request) -> Response:
        await self._authenticate(request)
        queries = await self._parse(request, _parse_queries)
        answers = self.predictor.predict_cached(queries)  # warm and fresh: no storage, no thread round trip
        if answers is not None:
            return Response(encode_prediction_response(answers), media_type=_JSON)
        body = await anyio.to_thread.run_sync(self._predict, queries, limiter=self.prediction_limiter)
        return Response(body, media_type=_JSON)

    def _predict(self, queries: list[PredictionQuery]) -> bytes:
        """The encoded answers (blocking: storage reads and CPU work, on a worker thread)."""
        return encode_prediction_response(self.predictor.predict_batch(queries))

    async def _authenticate(self, request: Request) -> UUID:
        """The key's instance; a refused key raises :class:`~.keys.KeyRefusedError` (answered by `_key_refused`)."""
        record = await authenticate(self.storage, self.key_usage, request.headers.get("authorization"))
        return record.instance_id

    async def _parse(self, request: Request, parse: Callable[[bytes, str | None, int], _T]) -> _T:
        """Read the body and ``parse`` it: on the event loop when it is small (a handful of events: microseconds),
        else on a worker thread behind :attr:`parse_limiter`, so that one huge body never stalls other requests and
        a flood of them cannot take every worker thread from authentication and inserts."""
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != _JSON:
            raise ApiError(415, f"Content-Type must be {_JSON}")
        body = await self._read_body(request)
        encoding = request.headers.get("content-encoding")
        if len(body) <= INLINE_PARSE_BYTES and encoding is None:
            return parse(body, encoding, self.max_body_bytes)
        return await anyio.to_thread.run_sync(parse, body, encoding, self.max_body_bytes, limiter=self.parse_limiter)

    async def _read_body(self, request: Request) -> bytes:
        limit = self.max_body_bytes
        too_large = ApiError(413, f"request body exceeds {limit} bytes")
        declared = request.headers.get("content-length", "")
        chunks: list[bytes] = []
        size = 0
        try:
            if declared.isdigit() and int(declared) > limit * _DRAIN_FACTOR:
                raise too_large
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit * _DRAIN_FACTOR:
                    raise too_large
                if size <= limit:
                    chunks.append(chunk)
        except ClientDisconnect:
            raise ApiError(400, "the client disconnected while sending the body") from None
        if size > limit:
            raise too_large
        return b"".join(chunks)


def _batch_items(body: bytes, content_encoding: str | None, limit: int, key: str, max_items: int) -> list[Any]:
    """The items of a batch envelope, decoded under :mod:`.boundary`'s rules (blocking: CPU work)."""
    try:
        return batch_items(loads(decode_content(body, content_encoding, limit)), key, max_items)
    except BodyError as error:
        raise ApiError(error.status, error.detail) from None


def _parse_events(body: bytes, content_encoding: str | None, limit: int) -> list[Verdict]:
    """Every event of an events body, judged (blocking: CPU work)."""
    return [judge(item) for item in _batch_items(body, content_encoding, limit, "events", MAX_BATCH_SIZE)]


def _parse_queries(body: bytes, content_encoding: str | None, limit: int) -> list[PredictionQuery]:
    """The queries of a predictions body, or 422 listing every bad one by its path (blocking: CPU work)."""
    items = _batch_items(body, content_encoding, limit, "queries", MAX_PREDICTION_QUERIES)
    queries, errors = [], []
    for index, item in enumerate(items):
        try:
            queries.append(_wire.structure(item, PredictionQuery))
        except ValidationError as error:
            errors += [f"queries[{index}]{': ' if line.startswith('expected') else '.'}{line}" for line in error.errors]
    if errors:
        raise ApiError(422, "invalid prediction queries", errors=errors)
    return queries


# -- error handlers ---------------------------------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # noqa: S101 - registered for ApiError only
    return _json_response(exc.status, _error_body(exc.detail, exc.errors), exc.headers)


async def _key_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KeyRefusedError)  # noqa: S101 - registered for KeyRefusedError only
    return _json_response(exc.status, _error_body(exc.detail), exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    return _json_response(exc.status_code, _error_body(str(exc.detail)), exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    # Starlette logs nothing here and re-raises after replying; uvicorn logs the traceback server-side.
    return _json_response(500, _error_body("internal server error"))


# -- the app ----------------------------------------------------------------------------------------------------------


def create_app(
    storage: Storage,
    *,
    faults: FaultPlan | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    clock: Callable[[], datetime] = _utc_now,
    predictor: Predictor | None = None,
    prediction_max_age_seconds: float = PREDICTION_MAX_AGE_SECONDS,
) -> Starlette:
    """The reference server as an ASGI app over ``storage``.

    :param faults: the fault plan this server obeys (a new, empty one by default; see ``app.state.faults``).
    :param max_body_bytes: the request body limit (413 above it).
    :param clock: aware "now": events' ``received_at`` (and, unless ``predictor`` is given, ``last_updated``).
    :param predictor: answers prediction queries (default: a :class:`~.predictions.Predictor` over ``storage``).
    :param prediction_max_age_seconds: the default predictor's freshness bound: a cached summary younger than this
        is used although events were added since (0: always exact).

    The app's ``state`` holds ``storage``, ``faults``, ``predictor``, ``parse_limiter``, ``prediction_limiter`` and
    ``otlp`` (the OTLP bridge mounted at ``/otlp``: :mod:`.otlp`).
    """
    plan = FaultPlan() if faults is None else faults
    key_usage = KeyUsage(storage, now=clock)  # one per app: a key used on several routes is written once a minute
    api = _Api(
        storage=storage,
        faults=plan,
        predictor=(
            Predictor(storage, clock=clock, max_age_seconds=prediction_max_age_seconds)
            if predictor is None
            else predictor
        ),
        max_body_bytes=max_body_bytes,
        clock=clock,
        key_usage=key_usage,
    )
    otlp = OtlpMount(storage, now=clock, key_usage=key_usage)
    stats = StatsApi(  # the dashboard's read API, /v1/stats/... (server/stats_api.py)
        storage,
        api.predictor,
        key_usage=key_usage,
        error=lambda status, detail, errors: ApiError(status, detail, errors=errors),
        clock=clock,
        prediction_limiter=api.prediction_limiter,
    )
    app = Starlette(
        routes=[
            Route(HEALTH_PATH, api.healthz, methods=["GET"]),
            Route(OPENAPI_PATH, api.openapi, methods=["GET"]),
            Route(EVENTS_PATH, api.post_events, methods=["POST"]),
            Route(PREDICTIONS_PATH, api.post_predictions, methods=["POST"]),
            Mount(OTLP_PATH, app=otlp),  # the OTLP bridge, outside API v1 (server/otlp.py)
            *stats.routes(),
            *dashboard_routes(),  # the page at /dashboard (server/dashboard.py)
        ],
        middleware=[Middleware(FaultMiddleware, plan=plan, exempt=(HEALTH_PATH, *dashboard_paths()))],
        exception_handlers={
            ApiError: _api_error,
            KeyRefusedError: _key_refused,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=otlp.lifespan,
    )
    # No "add the trailing slash" redirects: Starlette builds their Location from the Host header, which a client
    # forges at will (an open redirect). A path the API does not have is a 404, whatever its slashes.
    app.router.redirect_slashes = False
    app.state.storage = storage
    app.state.faults = plan
    app.state.predictor = api.predictor
    app.state.parse_limiter = api.parse_limiter
    app.state.prediction_limiter = api.prediction_limiter
    app.state.otlp = otlp
    app.state.stats_limiter = stats.limiter
    return app
