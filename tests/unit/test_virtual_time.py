"""The virtual clocks the unit tests rely on really are virtual, under both backends."""

from __future__ import annotations

import time

import anyio


async def test_an_hour_of_sleep_takes_no_wall_clock_time() -> None:
    """A one-hour anyio sleep completes at once, and anyio's clock says an hour passed."""
    wall_start = time.monotonic()
    loop_start = anyio.current_time()
    await anyio.sleep(3600)
    assert anyio.current_time() - loop_start >= 3600
    assert time.monotonic() - wall_start < 5


async def test_timeouts_fire_on_virtual_time() -> None:
    """move_on_after cancels a longer wait once the virtual deadline passes."""
    with anyio.move_on_after(30) as scope:
        await anyio.sleep(60)
    assert scope.cancelled_caught
