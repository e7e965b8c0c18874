"""``mosaic-telemetry``: the command line — a one-command demo, the reference server, bulk sends, predictions, keys.

Install it with the ``cli`` extra (click, rich, trio and the reference server); from a checkout::

    pip install -e ".[cli]"
    mosaic-telemetry demo

Modules, one job each: :mod:`.app` (the command group, ``--version``, logging, exit codes), :mod:`.options` (options
and config shared by commands), :mod:`.output` (consoles, progress bars, tables, JSON), :mod:`.workload` (the
simulated workload), :mod:`.drive` (running it through a client on a backend), and one module per command:
:mod:`.demo`, :mod:`.serve`, :mod:`.send`, :mod:`.predict`, :mod:`.keys`.
"""

from __future__ import annotations

try:
    import click  # noqa: F401
    import rich  # noqa: F401
except ImportError as error:  # pragma: no cover - the console script is installed with the extra
    raise SystemExit(
        f'mosaic-telemetry needs the "cli" extra: pip install "mosaicstack-telemetry[cli]", '
        f'or from a checkout: pip install -e ".[cli]" ({error.name} is missing)'
    ) from error

from .app import main

__all__ = ["main"]
