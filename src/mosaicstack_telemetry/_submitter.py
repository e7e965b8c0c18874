"""Sending batches: one send cycle of a batch (:class:`Submitter`), and the backoff every submitter shares
(:class:`SharedBackoff`).

A cycle makes up to ``1 + max_retries`` attempts — one only while a flush is settling — then settles the batch (sent,
rejected, or refused for good) or puts it back in the backlog, first in line for the next cycle. Every attempt waits its turn
from the shared backoff: while the server fails, the submitters together make one attempt per backoff step, one at
a time; a success ends every pause at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable

import anyio
import httpx

from ._accounting import Accounting, Tally
from ._backlog import Backlog
from ._backoff import backoff_delay
from ._batch import Batch
from ._http import AttemptError, post, report_failure
from ._protocol import EVENTS_PATH
from .batch import BatchEventResponse
from .config import TelemetryConfig
from .errors import ValidationError

__all__ = ["SharedBackoff", "Submitter"]

logger = logging.getLogger("mosaicstack_telemetry")


class SharedBackoff:
    """When the next attempt may go, for every submitter of one run.

    The retry number persists across cycles (a long outage climbs to the 60 s cap) and resets on success. A server's
    ``Retry-After`` is a floor nothing cuts short; our own backoff is cut short by :meth:`hurry` (stop, flush) and
    by any success.
    """

    def __init__(self) -> None:
        self.retry_number = 0
        #: no attempt before this (our backoff, or Retry-After)
        self.resume_at = -math.inf
        #: no attempt before this, even when hurried (Retry-After)
        self._server_resume_at = -math.inf
        self._probe = anyio.Lock()  # while the server is failing, one attempt at a time
        self._hurried = anyio.Event()
        self._paused = anyio.Event()  # set to end every pause now

    def hurry(self) -> None:
        """Stop and flush: pauses end now, and later ones are skipped, until :meth:`calm`."""
        self._hurried.set()
        self._paused.set()

    def calm(self) -> None:
        """A flush is over: pauses last their full length again."""
        self._hurried, self._paused = anyio.Event(), anyio.Event()

    def succeeded(self) -> None:
        self.retry_number = 0
        self.resume_at = self._server_resume_at = -math.inf
        self._paused.set()  # a submitter pausing after a failure may go now
        if not self._hurried.is_set():
            self._paused = anyio.Event()

    def failed(self, retry_after: float | None) -> float:
        """Count a retryable failure; returns the pause before the next attempt (any submitter's)."""
        self.retry_number += 1
        now = anyio.current_time()
        delay = max(backoff_delay(self.retry_number), retry_after or 0.0)
        self.resume_at = now + delay
        if retry_after is not None:
            self._server_resume_at = now + retry_after
        return delay

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait until an attempt may go; while the server is failing, hold the one probe for the attempt."""
        await self._wait()
        if not self.retry_number:
            yield
            return
        async with self._probe:
            await self._wait()  # the probe before ours may have failed and pushed the backoff on
            yield

    async def _wait(self) -> None:
        await anyio.sleep(max(0.0, self._server_resume_at - anyio.current_time()))
        wait = self.resume_at - anyio.current_time()
        if wait > 0:
            with anyio.move_on_after(wait):
                await self._paused.wait()


class Submitter:
    """Sends batches on one HTTP client, counting each attempt's result; shared by the run's submitter tasks."""

    def __init__(
        self,
        *,
        config: TelemetryConfig,
        http: httpx.AsyncClient,
        backlog: Backlog,
        accounting: Accounting,
        backoff: SharedBackoff,
    ) -> None:
        self.config = config
        self._http = http
        self._backlog = backlog
        self._acc = accounting
        self._backoff = backoff
        self._url = f"{config.server_url}{EVENTS_PATH}"

    async def submit(self, batch: Batch, *, retrying: Callable[[], bool]) -> bool:
        """One cycle: attempts with backoff between (while ``retrying()`` allows), then settle; whether it settled
        (``False``: every attempt failed, and the batch went back to the backlog, first in line)."""
        attempts = 1 + max(0, self.config.max_retries)
        for attempt in range(attempts):
            if attempt:
                if not retrying():
                    break  # a flush makes one attempt per batch, then reports
                self._acc.retried += 1
            try:
                async with self._backoff.turn():
                    outcome = await self._attempt(batch)
            except AttemptError as error:
                report_failure(error, self.config.on_error)
                if not error.retryable:
                    await self._backlog.settle(batch, Tally(refused=len(batch)))
                    self._acc.failed_batches += 1
                    logger.error(
                        "mosaicstack-telemetry: dropped a batch of %d events: %s (not retried)", len(batch), error
                    )
                    return True
                delay = self._backoff.failed(error.retry_after)
                logger.debug(
                    "mosaicstack-telemetry: attempt %d of %d for a batch of %d failed (%s); next attempt in %.2fs%s",
                    attempt + 1,
                    attempts,
                    len(batch),
                    error,
                    delay,
                    " (Retry-After)" if error.retry_after is not None else "",
                )
                continue
            await self._backlog.settle(batch, outcome)
            self._backoff.succeeded()
            return True
        self._acc.failed_batches += 1
        lost = self._backlog.put_back(batch)
        logger.warning(
            "mosaicstack-telemetry: a batch of %d events failed %d attempt%s; re-queued%s",
            len(batch),
            attempt + 1,
            "" if attempt == 0 else "s",
            f" ({lost} oldest dropped: queue full)" if lost else "",
        )
        return False

    async def _attempt(self, batch: Batch) -> Tally:
        """POST the batch once: what the server's answer makes of it, or :class:`AttemptError` saying why not."""
        if self.config.dry_run:
            logger.info(
                "[DRY RUN] Would submit batch of %d events to %s",
                len(batch),
                self._url if self.config.server_url else f"(no server_url){EVENTS_PATH}",
            )
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("[DRY RUN] the batch: %s", batch.request_body().decode())
            return Tally(sent=len(batch))
        try:
            body = batch.request_body()
        except Exception as error:
            raise AttemptError(f"could not encode the batch: {error!r}", retryable=False) from None
        began = anyio.current_time()
        response = await post(self._http, self._url, body, deadline=self.config.request_timeout_seconds)
        outcome = self._read(batch, response)
        logger.debug(
            "mosaicstack-telemetry: sent a batch of %d events: HTTP %d in %.1f ms (%d accepted, %d duplicates, "
            "%d rejected)",
            len(batch),
            response.status_code,
            (anyio.current_time() - began) * 1000,
            outcome.sent - outcome.duplicates,
            outcome.duplicates,
            outcome.rejected,
        )
        return outcome

    def _read(self, batch: Batch, response: httpx.Response) -> Tally:
        """What a 2xx reply says: per-event rejections are final; a duplicate was delivered before."""
        try:
            reply = BatchEventResponse.model_validate_json(response.content)
        except ValidationError as error:
            logger.warning(
                "mosaicstack-telemetry: HTTP %d with an unreadable body; counting the batch of %d as sent: %s",
                response.status_code,
                len(batch),
                error,
            )
            return Tally(sent=len(batch))
        reasons: list[str] = []
        duplicates = 0
        for result in reply.results:
            if result.status == "accepted":
                continue
            if _is_duplicate(result.error):
                duplicates += 1
            else:
                reasons.append(result.error or "rejected")
        rejected = min(len(reasons), len(batch))
        if rejected:
            logger.warning(
                "mosaicstack-telemetry: the server rejected %d of %d events: %s",
                rejected,
                len(batch),
                "; ".join(sorted(set(reasons)))[:500],
            )
        sent = len(batch) - rejected
        return Tally(sent=sent, duplicates=min(duplicates, sent), rejected=rejected)


def _is_duplicate(error: str | None) -> bool:
    return error is not None and "duplicate" in error.lower()
