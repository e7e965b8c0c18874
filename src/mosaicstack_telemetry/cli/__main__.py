"""``python -m mosaicstack_telemetry.cli``: the console script without its launcher (what the tests run)."""

from __future__ import annotations

from . import main

main()
