"""Prediction types: what to ask the server for, and the crowd-sourced answer it gives."""

from __future__ import annotations

from datetime import datetime

import attrs

from . import _converters as convert
from ._model import Model
from ._rules import Bool, DateTime, EnumOf, FloatRange, IntRange, MappingOf, Nested, Text, rule
from ._schema import schema
from .enums import Complexity, Provider, TaskType

__all__ = [
    "CorrectionFactors",
    "PredictionData",
    "PredictionMetadata",
    "PredictionQuery",
    "PredictionResponse",
    "QualityPrediction",
    "TokenDistribution",
]

_COUNT = IntRange(0, 2**63 - 1)
_RATE = FloatRange(0.0, 1.0)


@schema
@attrs.frozen(kw_only=True)
class PredictionQuery(Model):
    """The combination to predict for. Frozen and hashable: it is the prediction cache's key."""

    task_type: TaskType = attrs.field(converter=convert.task_type, metadata=rule(EnumOf(TaskType)))
    model: str = attrs.field(metadata=rule(Text(1, 100)))
    provider: Provider = attrs.field(converter=convert.provider, metadata=rule(EnumOf(Provider)))
    complexity: Complexity = attrs.field(converter=convert.complexity, metadata=rule(EnumOf(Complexity)))


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class TokenDistribution(Model):
    """Percentiles of a token count."""

    p10: int = attrs.field(metadata=rule(_COUNT))
    p25: int = attrs.field(metadata=rule(_COUNT))
    median: int = attrs.field(metadata=rule(_COUNT))
    p75: int = attrs.field(metadata=rule(_COUNT))
    p90: int = attrs.field(metadata=rule(_COUNT))


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class CorrectionFactors(Model):
    """Actual ÷ estimated tokens: above 1.0 the estimates were too low."""

    input: float = attrs.field(metadata=rule(FloatRange(0.0)))
    output: float = attrs.field(metadata=rule(FloatRange(0.0)))


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class QualityPrediction(Model):
    """How often the quality gates passed and tasks succeeded."""

    gate_pass_rate: float = attrs.field(metadata=rule(_RATE))
    success_rate: float = attrs.field(metadata=rule(_RATE))


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class PredictionData(Model):
    """The predicted distributions for one combination."""

    input_tokens: TokenDistribution = attrs.field(metadata=rule(Nested(TokenDistribution)))
    output_tokens: TokenDistribution = attrs.field(metadata=rule(Nested(TokenDistribution)))
    #: ``{"median": <microdollars>}``
    cost_usd_micros: dict[str, int] = attrs.field(metadata=rule(MappingOf(_COUNT)))
    #: ``{"median": <milliseconds>}``
    duration_ms: dict[str, int] = attrs.field(metadata=rule(MappingOf(_COUNT)))
    correction_factors: CorrectionFactors = attrs.field(metadata=rule(Nested(CorrectionFactors)))
    quality: QualityPrediction = attrs.field(metadata=rule(Nested(QualityPrediction)))


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class PredictionMetadata(Model):
    """How a prediction was made: sample size, fallback, confidence."""

    sample_size: int = attrs.field(metadata=rule(_COUNT))
    #: 0 = exact match, 1+ = dimensions dropped, -1 = no data
    fallback_level: int = attrs.field(metadata=rule(IntRange(-1, 100)))
    #: ``"high"``, ``"medium"``, ``"low"`` or ``"none"``
    confidence: str = attrs.field(metadata=rule(Text(1, 20)))
    last_updated: datetime | None = attrs.field(
        default=None, converter=convert.optional_timestamp, metadata=rule(DateTime(optional=True))
    )
    #: which dimensions matched (``None`` for a dimension dropped by the fallback)
    dimensions_matched: dict[str, str | None] | None = attrs.field(
        default=None, metadata=rule(MappingOf(Text(optional=True), optional=True))
    )
    fallback_note: str | None = attrs.field(default=None, metadata=rule(Text(optional=True)))
    cache_hit: bool = attrs.field(default=False, metadata=rule(Bool()))


@schema
@attrs.define(kw_only=True, on_setattr=attrs.setters.NO_OP)
class PredictionResponse(Model):
    """The answer for one query: ``prediction`` is ``None`` when the server has no data (``confidence="none"``)."""

    prediction: PredictionData | None = attrs.field(metadata=rule(Nested(PredictionData, optional=True)))
    metadata: PredictionMetadata = attrs.field(metadata=rule(Nested(PredictionMetadata)))
