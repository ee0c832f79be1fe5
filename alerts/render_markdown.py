"""Page-derived text as inert Markdown, for the Prefect artifacts (run and digest).

A headline is data, never markup: it cannot add a link (explicit, or a bare URL the renderer
would autolink), emphasis, HTML or a line break. Prefect's UI shows a link's label as raw
text (backslash escapes and entities appear verbatim), so labels are made inert by
replacing what could end the label or open markup instead of escaping it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

from .text import clean

# Every ASCII punctuation character CommonMark lets a backslash escape, ':' included so that
# no "http://" or "www." survives for an autolinker; '<', '>' and '&' become entities.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")
_LABEL = str.maketrans({"[": "(", "]": ")", "<": "‹", ">": "›", "`": "'", "\\": None})
_URL_SAFE = "/?&=%#:@!$'*+,;~-._"


def md_escape(text: str) -> str:
    """Plain text as inert Markdown on one line."""
    text = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_label(text: str) -> str:
    """Text for a Markdown link label: cannot close the label, open HTML or code."""
    return " ".join(text.translate(_LABEL).split())


def md_url(url: str) -> str | None:
    """An http(s) URL safe inside `[..](here)`, or None for anything else."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return urlunsplit(
        (
            parts.scheme.lower(),
            parts.netloc,
            quote(parts.path, safe=_URL_SAFE),
            quote(parts.query, safe=_URL_SAFE),
            quote(parts.fragment, safe=_URL_SAFE),
        )
    )


def md_link(text: str, url: str) -> str:
    """`[text](url)` with an inert label and a checked URL, else the escaped text alone."""
    target = md_url(url)
    if target is None:
        return md_escape(text) or "(untitled)"
    return f"[{md_label(clean(text)) or '(untitled)'}]({target})"
