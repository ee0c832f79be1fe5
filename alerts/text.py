"""Small text helpers every renderer shares: cleaning, truncation, dates, URL checks.

Page-derived strings are cleaned *before* any target-specific escaping: control characters
(CR/LF, ESC, NUL...), Unicode line/paragraph separators and bidi overrides are turned into
spaces or dropped, and whitespace runs collapse to one space. That alone stops header
injection, breaking out of a quoted line, terminal escape sequences and right-to-left
spoofing, whatever the target format.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from newswatch.models import Match

from .message import AlertMessage

ELLIPSIS = "…"

# Display caps (characters, before escaping): keep one alert readable at a glance.
HEADLINE_MAX = 300
LEAD_MAX = 500
EVIDENCE_MAX = 500
EVIDENCE_PER_WATCH = 2
TERMS_PER_WATCH = 8
PREVIOUS_MAX = 5
ALSO_REPORTED_MAX = 10

# Bidi embedding/override/isolate controls: invisible, and able to reorder what a reader sees.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_SPACES = re.compile(r"\s+")


def clean(text: str) -> str:
    """One tidy line: control and separator characters become spaces, bidi controls go."""
    text = text.translate(_BIDI)
    chars = (" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return _SPACES.sub(" ", "".join(chars)).strip()


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending in "…" when it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def fit(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """Escape ``text`` and cut it so the *escaped* result fits ``limit`` characters.

    Cutting after escaping could split an entity (``&am…``); cutting the raw text first could
    still overflow once ``&`` becomes ``&amp;``. So grow the escaped text character by
    character and stop before the limit, keeping room for the ellipsis.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    size = 0
    for char in text:
        piece = escape(char)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out).rstrip() + ELLIPSIS


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and no whitespace or control characters.

    Only such URLs become links; anything else (``javascript:``, ``data:``...) is shown as text.
    """
    if not url or any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def format_when(when: datetime | None) -> str:
    """A short, unambiguous timestamp: UTC for aware datetimes, as-is for naive ones."""
    if when is None:
        return "date unknown"
    if when.tzinfo is not None:
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M")


def format_score(match: Match) -> str:
    return f"score {match.score:.2f} (threshold {match.threshold:.2f})"


def kind_label(msg: AlertMessage) -> str:
    return "New story" if msg.kind == "new_story" else "Development"
