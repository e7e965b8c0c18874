"""Cost of a call in integer microdollars: strict model matching, overrides first, rounded once.

Matching (:func:`model_candidates`) never guesses by prefix — ``gpt-4o-mini`` is never priced as ``gpt-4o``. A
name is lower-cased, then tried as given and with only *packaging* removed: a provider or path prefix
(``openai/``, ``anthropic/``, Vertex's ``…/models/``), a Bedrock form (``us.anthropic.…-v1:0``), Vertex's ``@…``, an
Ollama ``:latest``, Claude's dotted versions as spelled by OpenRouter (``claude-sonnet-4.5``), and finally a date
suffix (``-20250929``, ``-2024-08-06``). Each candidate must then match a key exactly. User overrides and aliases
come before the built-in table; the ``prices`` extra (``genai-prices``) is a fallback accepted only when it names
the same model exactly.

Every price is µ$ per million tokens (an ``int``), so a cost is an exact integer sum divided by 1,000,000 once, at
the end, rounding half up.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from collections.abc import Iterable, Mapping

import attrs

from ._genai import available, genai_cost
from .stats import COUNTERS
from .usage import Usage

__all__ = ["Cost", "CostStatus", "ModelPrice", "Pricer", "Tier", "model_candidates"]

logger = logging.getLogger("mosaicstack_telemetry.llm")

_PER_MILLION = 1_000_000


def _ascending(tiers: Iterable[Tier]) -> tuple[Tier, ...]:
    return tuple(sorted(tiers, key=lambda tier: tier.above))


@attrs.frozen(kw_only=True)
class ModelPrice:
    """A model's prices, each in microdollars per million tokens (USD/Mtok × 1,000,000).

    A cache rate left ``None`` falls back: ``cache_read`` and ``cache_write`` to ``input``, ``cache_write_1h`` to
    ``cache_write``. ``tiers`` are long-context cliffs: when the call's input total exceeds a tier's ``above``, every
    token of the call pays that tier's prices (Anthropic, OpenAI and Google all charge this way).
    """

    input: int
    output: int
    cache_read: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None
    tiers: tuple[Tier, ...] = attrs.field(default=(), converter=_ascending)

    def for_input(self, input_tokens: int) -> ModelPrice:
        """The prices that apply to a call with this input total (the highest tier it exceeds, else these)."""
        chosen = self
        for tier in self.tiers:  # ascending
            if input_tokens > tier.above:
                chosen = tier.price
        return chosen

    def cost_micros(self, usage: Usage) -> int:
        """The cost of ``usage`` (unknown counts as 0), rounded once, half up."""
        total_in = usage.input_tokens or 0
        price = self.for_input(total_in)
        cache_write = price.input if price.cache_write is None else price.cache_write
        write_1h_rate = cache_write if price.cache_write_1h is None else price.cache_write_1h
        cache_read_rate = price.input if price.cache_read is None else price.cache_read
        read = min(usage.cache_read_tokens, total_in)
        written = min(usage.cache_write_tokens, total_in - read)
        written_1h = min(usage.cache_write_1h_tokens, written)
        numerator = (
            (total_in - read - written) * price.input
            + read * cache_read_rate
            + (written - written_1h) * cache_write
            + written_1h * write_1h_rate
            + (usage.output_tokens or 0) * price.output
        )
        return (numerator + _PER_MILLION // 2) // _PER_MILLION


@attrs.frozen
class Tier:
    """A long-context price: applies when the input total is strictly greater than ``above`` tokens."""

    above: int
    price: ModelPrice


class CostStatus(str, enum.Enum):
    """Where a call's cost came from."""

    #: the provider reported the cost itself (OpenRouter ``usage.cost``)
    PROVIDER_REPORTED = "provider_reported"
    #: a :class:`Pricer` override (or an alias to one)
    OVERRIDE = "override"
    #: the built-in table (:mod:`~mosaicstack_telemetry.llm.price_table`)
    TABLE = "table"
    #: the ``prices`` extra (genai-prices), on an exact model match
    GENAI_PRICES = "genai_prices"
    #: a local model (Ollama): costs nothing per token
    LOCAL = "local"
    #: no price known for the model: cost 0, warned once per model, counted
    UNPRICED = "unpriced"
    #: nothing to price (a failed call with no usage)
    NONE = "none"

    def __str__(self) -> str:
        return str(self.value)


@attrs.frozen
class Cost:
    """A call's cost in microdollars and how it was obtained."""

    micros: int
    status: CostStatus
    #: the price key that matched (``None`` when unpriced, local or reported)
    matched: str | None = None

    @property
    def priced(self) -> bool:
        return self.status is not CostStatus.UNPRICED


_REGION = r"(?:us|eu|apac|au|jp|ca|global|us-gov)"
_BEDROCK = re.compile(
    rf"^(?:{_REGION}\.)?(?:anthropic|openai|mistral|google|meta|amazon|cohere)\.(?P<name>.+?)(?:-v\d+(?::\d+)?)?$"
)
_DATE_SUFFIX = re.compile(r"-(?:20\d{6}|20\d{2}-\d{2}-\d{2})$")
_CLAUDE_DOTTED = re.compile(r"^(claude-[a-z]+-\d+)\.(\d+)")


def model_candidates(model: str) -> list[str]:
    """The names ``model`` is looked up under, most specific first (see the module docstring)."""
    name = model.strip().lower()
    candidates = [name]
    bare = name.rsplit("/", 1)[-1]
    bare = bare.removesuffix(":latest")
    bare = bare.split("@", 1)[0]
    bedrock = _BEDROCK.match(bare)
    if bedrock:
        bare = bedrock.group("name")
    bare = _CLAUDE_DOTTED.sub(r"\1-\2", bare)
    candidates.append(bare)
    candidates.append(_DATE_SUFFIX.sub("", bare))
    return list(dict.fromkeys(c for c in candidates if c))


class Pricer:
    """Prices calls: provider-reported cost, then overrides (and aliases), the table, genai-prices, else unpriced.

    :param overrides: model → :class:`ModelPrice`, checked before the built-in table (keys matched exactly, after
        the same packaging removal as the table's).
    :param aliases: model name → the name to price it as (e.g. a fine-tune or a deployment name → its base model).
    :param table: the built-in table (default :data:`~mosaicstack_telemetry.llm.price_table.PRICES`).
    :param use_genai_prices: fall back to genai-prices for models missing here; ``None`` (default) uses it when the
        ``prices`` extra is installed. It never touches the network (its bundled data only).
    """

    def __init__(
        self,
        *,
        overrides: Mapping[str, ModelPrice] | None = None,
        aliases: Mapping[str, str] | None = None,
        table: Mapping[str, ModelPrice] | None = None,
        use_genai_prices: bool | None = None,
    ) -> None:
        if table is None:
            from .price_table import PRICES  # noqa: PLC0415 - the table is built from this module's classes

            table = PRICES
        self._overrides = {key.lower(): value for key, value in (overrides or {}).items()}
        self._aliases = {key.strip().lower(): value for key, value in (aliases or {}).items()}
        self._table = dict(table)
        self._use_genai = use_genai_prices
        self._cache: dict[str, tuple[ModelPrice, CostStatus, str] | None] = {}

    def lookup(self, model: str) -> tuple[ModelPrice, CostStatus, str] | None:
        """The price ``model`` matches exactly (with its status and key), or ``None``."""
        if model in self._cache:
            return self._cache[model]
        found = self._lookup(model)
        if len(self._cache) < 4096:  # bounded: model names come from responses
            self._cache[model] = found
        return found

    def _lookup(self, model: str) -> tuple[ModelPrice, CostStatus, str] | None:
        target = self._aliases.get(model.strip().lower(), model)
        candidates = model_candidates(target)
        for candidate in candidates:
            if candidate in self._overrides:
                return self._overrides[candidate], CostStatus.OVERRIDE, candidate
        for candidate in candidates:
            if candidate in self._table:
                return self._table[candidate], CostStatus.TABLE, candidate
        return None

    def price(self, model: str, usage: Usage, *, provider: str | None = None) -> Cost:
        """The cost of ``usage`` on ``model``. Never raises; an unknown model is warned about once and counted."""
        if usage.cost_usd_micros is not None:
            return Cost(usage.cost_usd_micros, CostStatus.PROVIDER_REPORTED)
        if provider == "ollama":
            return Cost(0, CostStatus.LOCAL)
        found = self.lookup(model)
        if found is not None:
            price, status, key = found
            return Cost(price.cost_micros(usage), status, key)
        if self._genai_enabled():
            fallback = genai_cost(model_candidates(model)[-1], usage, provider)
            if fallback is not None:
                return Cost(fallback[0], CostStatus.GENAI_PRICES, fallback[1])
        _warn_unpriced(model)
        return Cost(0, CostStatus.UNPRICED)

    def _genai_enabled(self) -> bool:
        if self._use_genai is None:
            self._use_genai = available()
        return self._use_genai


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_unpriced(model: str) -> None:
    """Log once per model name (an unpriced model must not look like a free one), and count it."""
    COUNTERS.unpriced(model)
    with _warned_lock:
        if model in _warned or len(_warned) >= 1024:
            return
        _warned.add(model)
    logger.warning(
        "mosaicstack-telemetry: no price for model %r: its cost is reported as 0 and counted unpriced; "
        "add it with Pricer(overrides=...) or aliases=...",
        model,
    )
