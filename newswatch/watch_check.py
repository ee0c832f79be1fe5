"""`newswatch watches check`: score one text, file or web page against the watches, and show
why, with the words that fired highlighted in the evidence sentences.

Everything shown comes from the page, so it is rendered as plain rich ``Text`` (never parsed
as console markup): a page saying ``[bold red]`` shows those characters.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Group, RenderableType
from rich.text import Text

from classifiers.watches import Watch, classify
from newswatch.config import HttpConfig
from newswatch.evaluate import split_title
from newswatch.match_view import render_match
from newswatch.models import Match

# A lone argument like "story.txt" that names no file is more likely a typo than text to score.
_PATHLIKE = re.compile(r"^\S+\.(txt|md|html?|text)$", re.IGNORECASE)
_HTML_START = re.compile(r"^\s*(<!doctype\s+html|<html|<head|<body)", re.IGNORECASE)


class CheckInputError(ValueError):
    """The text to check could not be had (file missing, page unreachable, nothing extracted)."""


@dataclass(frozen=True, slots=True)
class CheckInput:
    """What is scored: a title (counted title_weight times), the body, and where it came from."""

    title: str
    text: str
    origin: str


def is_url(arg: str) -> bool:
    return re.match(r"^https?://", arg, re.IGNORECASE) is not None


def read_input(arg: str, http: HttpConfig, *, title: str | None = None) -> CheckInput:
    """An http(s) URL is fetched and extracted as the pipeline does; an existing file is read
    (HTML is extracted); anything else is the text itself. For text and text files the first
    line is the title unless ``title`` is given."""
    if is_url(arg):
        return _from_url(arg, http, title)
    path = Path(arg).expanduser()
    if "\n" not in arg and path.is_file():
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CheckInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        head = raw[:2048].decode("utf-8", "replace")
        if path.suffix.lower() in (".html", ".htm") or _HTML_START.match(head):
            return _from_html(raw, path.resolve().as_uri(), f"file {path}", title)
        return _from_text(raw.decode("utf-8", "replace"), f"file {path}", title)
    if _PATHLIKE.match(arg.strip()):
        raise CheckInputError(f"file not found: {arg} (to check it as text, add a space)")
    return _from_text(arg, "text", title)


def _from_text(text: str, origin: str, title: str | None) -> CheckInput:
    if title is not None:
        return CheckInput(title, text, origin)
    head, body = split_title(text)
    return CheckInput(head, body, origin)


def _from_html(html: bytes, url: str, origin: str, title: str | None) -> CheckInput:
    from extractors.extract import ExtractionError, extract_article

    try:
        article = extract_article(html, url=url, source="check", fetched_at=datetime.now(UTC))
    except ExtractionError as exc:
        raise CheckInputError(f"{origin}: {exc.reason}") from None
    return CheckInput(article.title if title is None else title, article.text, origin)


def _from_url(url: str, http: HttpConfig, title: str | None) -> CheckInput:
    # Imported here: the pipeline's fetch policy (limits, address guard) comes with storage.
    from extractors.http import Fetcher, FetchError
    from flows.pipeline import fetch_policy

    async def fetch() -> bytes:
        async with Fetcher(fetch_policy(http)) as fetcher:
            return (await fetcher.get(url)).content

    try:
        html = asyncio.run(fetch())
    except FetchError as exc:
        raise CheckInputError(f"cannot fetch {url}: {exc.reason}") from None
    return _from_html(html, url, url, title)


def check(watches: Sequence[Watch], item: CheckInput) -> list[Match]:
    return classify(watches, item.title, item.text)


# ----------------------------------------------------------------------------- rendering


def render_check(item: CheckInput, watches: Sequence[Watch], matches: Sequence[Match]) -> Group:
    head = Text()
    head.append("checked ", "dim")
    head.append(item.origin)
    head.append(f" ({len(item.title) + len(item.text)} characters)", "dim")
    title = Text("title: ", style="dim")
    title.append(item.title or "(none)")
    parts: list[RenderableType] = [head, title, Text()]
    for watch, match in zip(watches, matches, strict=True):
        parts += [render_match(match, watch), Text()]
    return Group(*parts)


def check_json(item: CheckInput, matches: Sequence[Match]) -> dict[str, object]:
    return {
        "origin": item.origin,
        "title": item.title,
        "watches": {
            m.watch: {
                "matched": m.matched,
                "score": m.score,
                "threshold": m.threshold,
                "reason": m.reason,
                "terms": list(m.terms),
                "evidence": [{"sentence": e.sentence, "terms": list(e.terms)} for e in m.evidence],
            }
            for m in matches
        },
    }
