"""``mosaic-telemetry bridge``: an OTLP/HTTP receiver that turns AI coding harness telemetry into task events.

Point Claude Code's OTLP exporter at it (``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318``) and every user prompt
becomes one task-completion event, sent through a :class:`~..client.TelemetryClient` configured as usual
(``--server-url``/``--api-key``/``--instance-id`` or the ``MOSAIC_TELEMETRY_*`` variables). See docs/otel.md.

On loopback by default. A token (``--token-file``, or ``MOSAIC_TELEMETRY_BRIDGE_TOKEN`` — never an option value, which
``ps`` shows) makes every request need ``Authorization: Bearer <token>``. SIGINT and SIGTERM complete every open
prompt, flush the client, print the counters and exit 0. The socket is bound before the banner is printed (port 0
picks a free port, and the printed URL is the real one).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import click
import uvicorn

from ..client import TelemetryClient
from ..enums import TaskType
from ..otel.app import BridgeApp
from ..otel.assembler import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_OPEN_PROMPTS
from ..otel.body import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DECOMPRESSED_BYTES
from .listening import GRACE_SECONDS, bind_listener, local_url, until_stopped
from .options import EXIT_CODES_HELP, client_config, json_option, server_options
from .output import Ui, emit_json, key_values

__all__ = ["ENV_BRIDGE_TOKEN", "bridge"]

ENV_BRIDGE_TOKEN = "MOSAIC_TELEMETRY_BRIDGE_TOKEN"  # noqa: S105 - the variable's name, not a secret


def _token(token_file: Path | None) -> str | None:
    """The exporter's token from ``--token-file``, else the environment; errors never show the file's content."""
    if token_file is None:
        return os.environ.get(ENV_BRIDGE_TOKEN) or None
    try:
        text = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise click.BadParameter(f"cannot read {str(token_file)!r}: {reason}", param_hint="--token-file") from None
    if not text or any(character.isspace() for character in text):
        raise click.BadParameter(f"{str(token_file)!r} must hold one token without spaces", param_hint="--token-file")
    return text


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(0, 65_535), default=4318, show_default=True, help="0: a free port.")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_IDLE_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="A prompt with no new record for this long is complete.",
)
@click.option(
    "--max-open-prompts",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_OPEN_PROMPTS,
    show_default=True,
    help="Past this many open prompts the least recently active one is completed early (counted).",
)
@click.option(
    "--task-type",
    type=click.Choice([task.value for task in TaskType]),
    default=TaskType.UNKNOWN.value,
    show_default=True,
    help="The task type of every event (unless --infer-task-type finds one).",
)
@click.option(
    "--infer-task-type",
    is_flag=True,
    help="Infer the task type from the prompt text where the harness exports it (OTEL_LOG_USER_PROMPTS=1); "
    "the text is then discarded.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help=f"Require 'Authorization: Bearer <token>' with the token in this file (or in {ENV_BRIDGE_TOKEN}).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=DEFAULT_MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body accepted (413 above).",
)
@click.option(
    "--max-decompressed-bytes",
    type=click.IntRange(min=1024),
    default=DEFAULT_MAX_DECOMPRESSED_BYTES,
    show_default=True,
    help="Largest body accepted once decompressed (gzip, deflate).",
)
@server_options
@json_option
@click.pass_obj
def bridge(
    ui: Ui,
    *,
    host: str,
    port: int,
    idle_timeout: float,
    max_open_prompts: int,
    task_type: str,
    infer_task_type: bool,
    token_file: Path | None,
    max_body_bytes: int,
    max_decompressed_bytes: int,
    server_url: str | None,
    api_key: str | None,
    instance_id: str | None,
    timeout: float,
    max_retries: int,
    as_json: bool,
) -> None:
    """Receive OTLP/HTTP from AI coding harnesses (Claude Code) and send one task event per user prompt.

    Listens for POST /v1/logs (also /v1/metrics and /v1/traces, answered) in JSON or protobuf, and serves its
    counters at GET /stats. Prints where it listens (--json: one JSON line) and, at exit, its counters.
    """
    token = _token(token_file)
    config = client_config(
        server_url=server_url,
        api_key=api_key,
        instance_id=instance_id,
        need_instance_id=True,
        request_timeout_seconds=timeout,
        max_retries=max_retries,
    )
    if not _is_loopback(host) and token is None:
        ui.err.print(f"warning: listening on {host} without a token: anyone who can reach it can send events")
    client = TelemetryClient(config)
    app = BridgeApp(
        client,
        token=token,
        idle_timeout=idle_timeout,
        max_open_prompts=max_open_prompts,
        task_type=task_type,
        infer_task_type=infer_task_type,
        max_body_bytes=max_body_bytes,
        max_decompressed_bytes=max_decompressed_bytes,
    )
    sock = bind_listener(host, port)
    client.start()
    try:
        with until_stopped():
            url = local_url(host, sock.getsockname()[1])
            _announce(ui, url, config.server_url, token is not None, as_json=as_json)
            server_config = uvicorn.Config(
                app,
                loop="asyncio",
                http="h11",
                ws="none",
                lifespan="on",  # the app's sweeper runs for the lifespan; its shutdown completes every open prompt
                log_config=None,
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=GRACE_SECONDS,
            )
            uvicorn.Server(server_config).run(sockets=[sock])
    finally:
        sock.close()
        app.close()  # prompts still open if the server stopped before its lifespan shutdown
        client.stop()
    _report(ui, app.snapshot(), as_json=as_json)


def _announce(ui: Ui, url: str, server_url: str, authenticated: bool, *, as_json: bool) -> None:
    if as_json:
        emit_json({"url": url, "logs": f"{url}/v1/logs", "server_url": server_url, "token": authenticated}, indent=None)
        return
    ui.out.print("[bold]Mosaic Telemetry OTLP bridge[/]")
    ui.out.print(
        key_values({"listening": url, "forwarding to": server_url, "token": "required" if authenticated else "none"})
    )
    ui.out.print(
        "\nexport CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_LOGS_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/json"
        f"\nexport OTEL_EXPORTER_OTLP_ENDPOINT={url}\n",
        markup=False,
        soft_wrap=True,
    )
    ui.err.print("Listening; Ctrl-C completes open prompts, flushes and stops.")


def _report(ui: Ui, counters: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json({"stopped": True, **counters}, indent=None)
        return
    flat = {
        "records received": counters["records_received"],
        "records mapped": counters["records_mapped"],
        "records ignored": counters["records_ignored"],
        "duplicates": counters["duplicates"],
        "rejected": counters["rejected"],
        "prompts completed": sum(counters["prompts_completed"].values()),
        "events tracked": counters["events_tracked"],
        "events sent": counters["events_sent"],
    }
    ui.err.print(key_values({name: f"{value:,}" for name, value in flat.items()}, title="Stopped."))
