"""MkDocs hook: show the package's Sphinx-style roles (``:class:`X```) as plain code in the API reference.

The docstrings are written for Sphinx (``:param x:``, ``:class:`~pkg.Name```); mkdocstrings parses the fields but
leaves inline roles as text, so ``:meth:`TelemetryConfig.validate``` would render as ``:meth:<code>…</code>``. This
hook rewrites the rendered HTML: the role prefix goes, ``~pkg.mod.Name`` becomes ``Name`` (Sphinx's meaning of
``~``), and ``title <target>`` keeps the title.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj|const|ref):<code>([^<]*)</code>")
_TITLED = re.compile(r"^(.*?)\s*&lt;[^&]*&gt;$")


def _code(match: re.Match[str]) -> str:
    text = match.group(1)
    titled = _TITLED.match(text)
    if titled:
        text = titled.group(1)
    elif text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"<code>{text}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Rewrite every ``:role:<code>target</code>`` in a page's HTML."""
    return _ROLE.sub(_code, html)
