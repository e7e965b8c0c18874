"""Who served a call, and what a request said: read from the response, the client object or the call's arguments.

Nothing here imports a provider SDK: clients are recognised by the top-level package their class comes from and by
their ``base_url``, responses by their shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..enums import Provider
from ._access import get

__all__ = ["provider_of_client", "provider_of_model", "provider_of_response", "system_prompt"]

#: host fragments of OpenAI-compatible endpoints → the provider they are
_HOSTS = (
    ("openrouter.ai", Provider.OPENROUTER),
    ("anthropic.com", Provider.ANTHROPIC),
    ("generativelanguage.googleapis.com", Provider.GOOGLE),
    ("mistral.ai", Provider.MISTRAL),
    ("openai", Provider.OPENAI),  # api.openai.com, *.openai.azure.com
    (":11434", Provider.OLLAMA),
)


def provider_of_client(client: Any) -> Provider:
    """The provider a client object talks to: its package, refined by its ``base_url`` (OpenRouter, Gemini, Mistral
    and Ollama also speak the OpenAI protocol)."""
    package = type(client).__module__.split(".", 1)[0]
    base_url = str(getattr(client, "base_url", None) or getattr(getattr(client, "_client", None), "base_url", ""))
    for fragment, provider in _HOSTS:
        if fragment in base_url:
            return provider
    if package == "anthropic":
        return Provider.ANTHROPIC
    if package == "ollama":
        return Provider.OLLAMA
    if package == "openai":
        return Provider.OPENAI if not base_url else Provider.CUSTOM
    return Provider.UNKNOWN


#: the provider prefixes gateways put before a model name (LiteLLM's, OpenRouter's): ``openai/gpt-4o-mini``
_PREFIXES = {
    "openai": Provider.OPENAI,
    "azure": Provider.OPENAI,
    "anthropic": Provider.ANTHROPIC,
    "google": Provider.GOOGLE,
    "gemini": Provider.GOOGLE,
    "vertex_ai": Provider.GOOGLE,
    "mistral": Provider.MISTRAL,
    "mistralai": Provider.MISTRAL,
    "ollama": Provider.OLLAMA,
    "ollama_chat": Provider.OLLAMA,
    "openrouter": Provider.OPENROUTER,
}


def provider_of_model(model: str | None) -> Provider | None:
    """The provider a model name's prefix names (``openai/gpt-4o-mini`` → ``openai``); ``None`` without a known one.

    Used when the endpoint alone does not tell (a gateway on a custom ``base_url``): the prefix is how such
    gateways route a call, so it names who serves it.
    """
    if not model or "/" not in model:
        return None
    return _PREFIXES.get(model.split("/", 1)[0].strip().lower())


def provider_of_response(response: Any) -> Provider | None:
    """The provider a response's shape reveals (``None`` when it does not): Anthropic's ``type: message``, OpenAI's
    ``object`` kinds, Ollama's ``prompt_eval_count``/``eval_count``/``done``."""
    kind = get(response, "type")
    if kind == "message":
        return Provider.ANTHROPIC
    if get(response, "object") in {"chat.completion", "chat.completion.chunk", "response", "list"}:
        return Provider.OPENAI
    if get(response, "done") is not None or get(response, "eval_count") is not None:
        return Provider.OLLAMA
    return None


def system_prompt(kwargs: Mapping[str, Any]) -> str | None:
    """The system prompt of a request, whatever the API called it; ``None`` when there is none."""
    for key in ("system", "instructions"):  # Anthropic / Ollama generate; OpenAI Responses
        text = _text(kwargs.get(key))
        if text:
            return text
    messages = kwargs.get("messages")
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        for message in messages[:4]:  # system messages come first
            if get(message, "role") in {"system", "developer"}:
                return _text(get(message, "content"))
    inputs = kwargs.get("input")  # Responses: input may be a list of messages
    if isinstance(inputs, Sequence) and not isinstance(inputs, str):
        for message in inputs[:4]:
            if get(message, "role") in {"system", "developer"}:
                return _text(get(message, "content"))
    return None


def _text(content: Any) -> str | None:
    """A string, or the text parts of a content list (``[{"type": "text", "text": …}]``) joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = [get(part, "text") for part in content]
        return " ".join(part for part in parts if isinstance(part, str)) or None
    return None
