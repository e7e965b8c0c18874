"""Telemetry API v1 as both sides speak it: paths, headers and the prediction batch envelope, defined once.

The event batch bodies are the documented ``BatchEventRequest``/``BatchEventResponse``; the prediction batch envelope
is request ``{"queries": [PredictionQuery, …]}``, response ``{"results": [PredictionResponse, …]}`` in the same
order. The client and the reference server both use these functions, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import _wire
from .errors import ValidationError
from .predictions import PredictionQuery, PredictionResponse

__all__ = [
    "API_VERSION",
    "EVENTS_PATH",
    "MAX_PREDICTION_QUERIES",
    "PREDICTIONS_PATH",
    "auth_headers",
    "decode_prediction_request",
    "decode_prediction_response",
    "encode_prediction_request",
    "encode_prediction_response",
]

API_VERSION = "v1"
EVENTS_PATH = "/v1/events/batch"
PREDICTIONS_PATH = "/v1/predictions/batch"
#: Most queries one prediction request may carry (the reference server's limit; the client chunks above it).
MAX_PREDICTION_QUERIES = 100


def auth_headers(api_key: str, user_agent: str) -> dict[str, str]:
    """The headers of every request: Bearer auth, the configured User-Agent, a JSON body."""
    return {
        "Authorization": f"Bearer {api_key}",
        "User-Agent": user_agent,
        "Content-Type": "application/json",
    }


def encode_prediction_request(queries: Sequence[PredictionQuery]) -> bytes:
    return _wire.dumps({"queries": list(queries)})


def decode_prediction_request(body: bytes | str) -> list[PredictionQuery]:
    """Parse a prediction request body; a bad shape raises ``ValidationError`` naming the path."""
    return _decode_list(body, "queries", PredictionQuery)


def encode_prediction_response(results: Sequence[PredictionResponse]) -> bytes:
    return _wire.dumps({"results": list(results)})


def decode_prediction_response(body: bytes | str) -> list[PredictionResponse]:
    """Parse a prediction response body; a bad shape raises ``ValidationError`` naming the path."""
    return _decode_list(body, "results", PredictionResponse)


def _decode_list(body: bytes | str, key: str, model: type[Any]) -> list[Any]:
    title = f"{model.__name__} batch"
    try:
        data = _wire.loads(body)
    except ValueError as error:
        raise ValidationError(title, [f"invalid JSON: {error}"]) from None
    if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
        raise ValidationError(title, [f'expected an object {{"{key}": [...]}}'])
    items, errors = [], []
    for index, item in enumerate(data[key]):
        try:
            items.append(_wire.structure(item, model))
        except ValidationError as error:
            errors += [f"{key}[{index}]{': ' if line.startswith('expected') else '.'}{line}" for line in error.errors]
    if errors:
        raise ValidationError(title, errors)
    return items
