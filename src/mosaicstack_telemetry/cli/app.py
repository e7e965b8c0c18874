"""The ``mosaic-telemetry`` command group: ``--version``, ``--verbose``, the subcommands, and :func:`main`.

Each invocation gets its :class:`~.output.Ui` (two consoles) as click's context object. ``-v`` shows what the SDK
and the server log (``-vv``: debug) on stderr through rich, so it does not tear the progress bars; the handler is
removed when the command ends (tests invoke many commands in one process).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from .._version import __version__
from .bridge import bridge
from .demo import demo
from .keys import keys
from .options import EXIT_CODES_HELP, EXIT_FAILURE
from .output import Ui
from .predict import predict
from .send import send
from .serve import serve

__all__ = ["cli", "main"]

PROG_NAME = "mosaic-telemetry"
#: Loggers ``-v`` shows. Without ``-v`` uvicorn's get a ``NullHandler``: its lines (a cut reply in the demo is
#: "ASGI callable returned without completing response.") would otherwise reach stderr through logging's last resort.
_LOGGERS = ("mosaicstack_telemetry", "uvicorn")


def _attach_logging(ctx: click.Context, ui: Ui) -> None:
    if ui.verbose:
        ctx.call_on_close(ui.show_log(logging.DEBUG if ui.verbose > 1 else logging.INFO, _LOGGERS))
        return
    quiet = logging.NullHandler()
    for name in _LOGGERS:
        logging.getLogger(name).addHandler(quiet)

    def detach() -> None:
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(quiet)

    ctx.call_on_close(detach)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, "-V", "--version", prog_name=PROG_NAME, message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="Show the client's and the server's log on stderr (-vv: debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Mosaic Telemetry from the command line: a one-command demo, a local reference server, bulk sends of
    task-completion events, predictions and api keys.

    Start with `mosaic-telemetry demo`. Results go to stdout, progress and problems to stderr; output that is not
    a terminal gets no progress bar and no colour; --json (where offered) prints one JSON document.
    """
    ui = Ui.create(verbose)
    ctx.obj = ui
    _attach_logging(ctx, ui)


cli.add_command(demo)
cli.add_command(serve)
cli.add_command(send)
cli.add_command(predict)
cli.add_command(keys)
cli.add_command(bridge)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script. Exits 0 (done), 1 (failure at run time) or 2 (usage error).

    A bug must not greet the user with a traceback: it is reported in one line with the way to see more (``-v``),
    and exits 1.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name=PROG_NAME, standalone_mode=True)
    except Exception as error:  # standalone mode handles click's own errors; this is anything else
        if any(arg in ("-v", "--verbose") or arg.startswith("-vv") for arg in args):
            raise
        click.echo(f"{PROG_NAME}: internal error: {type(error).__name__}: {error} (-v shows the traceback)", err=True)
        sys.exit(EXIT_FAILURE)
