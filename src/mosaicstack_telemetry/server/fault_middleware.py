"""Fault injection as ASGI middleware: what a :class:`~.faults.FaultPlan` decides, done to real requests.

Per request, in this order: a delay; a hang (held until the client leaves, or 503 once the server stops); an
injected status (with ``Retry-After`` when planned); else the app answers and its reply may be garbled, cut half-way
(``drop``) or dripped a byte at a time. Waits end early when the plan is released (the server stops).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import _wire
from .faults import Decision, FaultPlan

__all__ = ["FaultMiddleware"]

_JSON = "application/json"
#: How often fault waits check whether the plan was released (the server stops).
_POLL_SECONDS = 0.02


def _error_body(detail: str) -> dict[str, Any]:
    return {"detail": detail}


def _json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(_wire.dumps(payload), status_code=status, media_type=_JSON, headers=headers)


async def _pause(plan: FaultPlan, seconds: float) -> None:
    """Sleep ``seconds`` (``inf``: forever), waking early when the plan is released (the server stops)."""
    deadline = anyio.current_time() + seconds
    while not plan.released:
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            return
        await anyio.sleep(min(remaining, _POLL_SECONDS))


class FaultMiddleware:
    """Pure ASGI middleware applying a :class:`~.faults.FaultPlan` to every request but those to ``exempt`` paths."""

    def __init__(self, app: ASGIApp, plan: FaultPlan, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.plan = plan
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        decision = self.plan.decide()
        if decision.delay:
            await _pause(self.plan, decision.delay)
        if decision.hang:
            await self._hang(receive, send)
            return
        if decision.status is not None:
            headers = {} if decision.retry_after is None else {"Retry-After": decision.retry_after}
            response = _json_response(decision.status, _error_body(f"injected fault: HTTP {decision.status}"), headers)
            await response(scope, receive, self._send(send, decision))
            return
        await self.app(scope, receive, self._send(send, decision))

    async def _hang(self, receive: Receive, send: Send) -> None:
        """Hold the request until the client disconnects, or answer 503 when the server stops first.

        One task polls: ``receive()`` under a short timeout (cancelling it is safe: the ASGI server keeps the
        message), then the plan's release flag. No child task, so nothing to cancel across tasks at shutdown.
        """
        disconnected = False
        while not (disconnected or self.plan.released):
            with anyio.move_on_after(_POLL_SECONDS):
                disconnected = (await receive())["type"] == "http.disconnect"
        if not disconnected:
            body = _wire.dumps(_error_body("the server is shutting down"))
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", _JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    def _send(self, send: Send, decision: Decision) -> Send:
        if not (decision.drop or decision.drip or decision.garble):
            return send
        plan = self.plan
        dropped = False

        async def faulty_send(message: Message) -> None:
            nonlocal dropped
            if dropped:
                return  # the connection is "gone": swallow the rest of the reply
            if message["type"] != "http.response.body":
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more_body: bool = message.get("more_body", False)
            if decision.garble:  # same length, so Content-Length still holds; not JSON any more
                body = b"#" * len(body)
                if not (decision.drop or decision.drip):
                    await send({**message, "body": body})
                    return
            if decision.drop:
                # Half the body, then return without finishing: the ASGI server closes the connection.
                await send(
                    {
                        "type": "http.response.body",
                        "body": body[: len(body) // 2],
                        "more_body": True,
                    }
                )
                dropped = True
                return
            for index in range(len(body)):
                if plan.released:
                    await send({"type": "http.response.body", "body": body[index:], "more_body": True})
                    break
                await send(
                    {
                        "type": "http.response.body",
                        "body": body[index : index + 1],
                        "more_body": True,
                    }
                )
                await _pause(plan, decision.drip)
            await send({"type": "http.response.body", "body": b"", "more_body": more_body})

        return faulty_send
