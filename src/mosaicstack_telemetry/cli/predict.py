"""``mosaic-telemetry predict``: ask a server for the prediction of one combination, the way the SDK does.

It goes through :meth:`TelemetryClient.refresh_predictions_sync`, which never raises: a failure shows up as an
empty cache, and the reason arrives through ``on_error``, which this command collects to say what went wrong.
A server that answers "no data for this combination" has answered: that is exit 0, not a failure.
"""

from __future__ import annotations

import click

from ..client import TelemetryClient
from ..enums import Complexity, Provider, TaskType
from ..errors import TelemetryError, ValidationError
from ..predictions import PredictionQuery
from .options import EXIT_CODES_HELP, client_config, json_option, server_options
from .output import Ui, emit_json, prediction_details, prediction_dict

__all__ = ["predict"]


def _values(enum: type[TaskType | Provider | Complexity]) -> list[str]:
    return [member.value for member in enum]


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--task-type", type=click.Choice(_values(TaskType)), required=True)
@click.option("--model", required=True, help="Model name, e.g. claude-sonnet-4-20250514.")
@click.option("--provider", type=click.Choice(_values(Provider)), required=True)
@click.option("--complexity", type=click.Choice(_values(Complexity)), default="medium", show_default=True)
@server_options
@json_option
@click.pass_obj
def predict(
    ui: Ui,
    *,
    task_type: str,
    model: str,
    provider: str,
    complexity: str,
    server_url: str | None,
    api_key: str | None,
    instance_id: str | None,
    timeout: float,
    max_retries: int,
    as_json: bool,
) -> None:
    """Print the server's prediction for one task type, model, provider and complexity.

    Tokens (p10 to p90), median cost and duration, success and quality-gate pass rates, confidence, and the
    fallback the server used when the exact combination has few events. Exits 1 when the server cannot be
    reached or answers an error.
    """
    try:
        query = PredictionQuery(task_type=task_type, model=model, provider=provider, complexity=complexity)
    except ValidationError as error:
        raise click.BadParameter("; ".join(error.errors), param_hint="--model") from None
    failures: list[TelemetryError] = []
    config = client_config(
        server_url=server_url,
        api_key=api_key,
        instance_id=instance_id,
        request_timeout_seconds=timeout,
        max_retries=max_retries,
        on_error=failures.append,
    )
    client = TelemetryClient(config)
    client.refresh_predictions_sync([query])
    response = client.get_prediction(query)
    if response is None:
        reason = str(failures[-1]) if failures else "no answer"
        raise click.ClickException(f"no prediction from {config.server_url}: {reason}")
    if as_json:
        emit_json(prediction_dict(query, response))
    else:
        ui.out.print(prediction_details(query, response))
