"""The lifespan the bridge's apps share (:func:`mosaicstack_telemetry.otel.asgi.sweeping`): it sweeps until its end,
a failing sweep or close is logged and never raised, and its end closes however it comes (cancelled too)."""

from __future__ import annotations

import logging

import anyio
import pytest

from mosaicstack_telemetry.otel.asgi import sweep_interval, sweeping

LOG = logging.getLogger("tests.otel.asgi")


def test_the_sweep_interval_is_a_quarter_of_the_idle_timeout_at_most_5_s() -> None:
    assert (0.25, 5.0) == (sweep_interval(1.0), sweep_interval(300.0))


async def test_a_failing_sweep_is_logged_and_the_sweeper_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    swept = anyio.Event()
    calls: list[str] = []

    async def sweep() -> None:
        calls.append("sweep")
        if len(calls) == 1:
            raise RuntimeError("boom")
        swept.set()

    with caplog.at_level(logging.ERROR, logger=LOG.name):
        async with sweeping(sweep, lambda: calls.append("close"), interval=0, log=LOG, label="test"):
            await swept.wait()
    assert (["sweep", "sweep"], ["close"]) == (calls[:2], calls[-1:])  # swept again after the failure, then closed
    assert 1 == calls.count("close")
    assert ["test: sweeping idle prompts failed"] == [record.getMessage() for record in caplog.records]


async def test_a_cancelled_lifespan_still_closes_and_a_failing_close_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[bool] = []

    def close() -> None:
        closed.append(True)
        raise RuntimeError("close failed")

    async def never() -> None:
        await anyio.sleep_forever()

    with caplog.at_level(logging.ERROR, logger=LOG.name), anyio.CancelScope() as scope:
        async with sweeping(never, close, interval=0, log=LOG, label="test"):
            scope.cancel()
            await anyio.sleep_forever()
    assert [True] == closed
    assert ["test: completing the open prompts at shutdown failed"] == [
        record.getMessage() for record in caplog.records
    ]
