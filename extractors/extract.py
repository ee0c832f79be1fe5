"""Main-text and metadata extraction from an article page, with trafilatura.

`extract_article` is a pure, top-level function of its arguments (no clock, no network, no
shared cache), so it can run in a process pool. The page is parsed once; metadata is read
from that tree (`page_metadata`), then `cleanup`'s layout fixes run on it and trafilatura's
fast path extracts the main text. Choices were measured with `bench/extraction.py` on the
ScrapingHub article-extraction benchmark (figures in that script's output and the README).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Literal

import trafilatura
from trafilatura.settings import Document
from trafilatura.utils import load_html

from extractors.charset import decode_document
from extractors.cleanup import (
    cut_comment_tail,
    drop_comment_threads,
    drop_hidden_copies,
    drop_leading_headline,
    headline_keys,
    looks_like_page_dump,
    merge_split_bodies,
)
from extractors.page_metadata import page_metadata
from extractors.urls import canonical_url, is_http_url
from newswatch.models import Article

ExtractionMode = Literal["precision", "balanced", "recall"]
# Balanced with trafilatura's fast path (no readability/justext comparison): on the 181
# benchmark pages it scores higher than precision mode's fast path and runs about twice as
# fast as the comparison; the fixes below make up what the comparison used to catch.
DEFAULT_MODE: ExtractionMode = "balanced"
MIN_TEXT_CHARS = 200

# The general fixes, each switchable so the benchmark can measure what each one is worth.
ALL_FIXES: frozenset[str] = frozenset(
    {"hidden_copies", "split_bodies", "comment_threads", "headline_line", "page_dump_retry"}
)


class ExtractionError(ValueError):
    """No article could be extracted from the page; `reason` says why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in pool workers: must survive pickling with its two arguments.
        return (type(self), (self.url, self.reason))


def extract_article(
    html: bytes,
    *,
    url: str,
    source: str,
    fetched_at: datetime,
    mode: ExtractionMode = DEFAULT_MODE,
    content_type: str | None = None,
    fixes: frozenset[str] = ALL_FIXES,
) -> Article:
    """The article in `html` (fetched from `url`), boilerplate removed.

    `fetched_at` is taken as UTC if naive; it also bounds the publication date (a page
    cannot be published after it was fetched). `content_type` is the response's
    Content-Type header, whose charset (if any) helps decoding (`charset`: BOM, UTF-8,
    header, <meta>, detection; undecodable bytes become U+FFFD, never an error). `fixes`
    (all by default) selects the layout fixes, for measuring them. Raises ExtractionError
    when the content is not HTML or has no main text of at least MIN_TEXT_CHARS characters.
    """
    _require_html(html, url)
    fetched = _as_utc(fetched_at)
    decoded, _codec = decode_document(html, content_type)
    tree = load_html(decoded)
    if tree is None:
        raise ExtractionError(url, "not an HTML page: could not parse it")
    # Everything read from the untouched tree comes first: the fixes below change it.
    meta = page_metadata(tree, url, fetched.date().isoformat())
    published = _published_at(meta.day, tree)
    language = _language(tree)
    text = main_text(tree, url=url, mode=mode, fixes=fixes)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError(
            url, f"no main text found ({len(text)} characters, need {MIN_TEXT_CHARS})"
        )
    return Article(
        url=url,
        canonical_url=_canonical(meta.url, url),
        source=source,
        title=meta.title or _first_line(text),
        text=text,
        fetched_at=fetched,
        author=meta.author,
        published_at=published,
        sitename=meta.sitename,
        language=language,
    )


def main_text(
    tree: Any, *, url: str, mode: ExtractionMode = DEFAULT_MODE, fixes: frozenset[str] = ALL_FIXES
) -> str:
    """The cleaned main text of the page parsed into `tree` ("" if none); changes `tree`."""
    headlines = headline_keys(tree) if "headline_line" in fixes else set()
    if "hidden_copies" in fixes:
        drop_hidden_copies(tree)
    if "split_bodies" in fixes:
        merge_split_bodies(tree)
    if "comment_threads" in fixes:
        drop_comment_threads(tree)
    lines = _text_lines(tree, url, mode, fast=True)
    if "page_dump_retry" in fixes and looks_like_page_dump(lines):
        # The fast path returned the whole page; the slower, stricter path rarely does.
        careful = _text_lines(tree, url, "precision", fast=False)
        if careful:
            lines = careful
    if "headline_line" in fixes:
        lines = drop_leading_headline(lines, headlines)
    if "comment_threads" in fixes:
        lines = cut_comment_tail(lines)
    return "\n".join(lines)


def _text_lines(tree: Any, url: str, mode: ExtractionMode, *, fast: bool) -> list[str]:
    document = trafilatura.bare_extraction(
        tree,  # trafilatura works on its own copy: `tree` is left as it is
        url=url,
        fast=fast,
        include_comments=False,
        include_tables=True,
        favor_precision=mode == "precision",
        favor_recall=mode == "recall",
        deduplicate=False,  # trafilatura's dedup keeps a process-wide cache: not pure
    )
    if not isinstance(document, Document) or not document.text:
        return []
    return clean_lines(document.text)


# Lines that point elsewhere rather than tell the story: "Read more: ...", "Related: ...".
# A label must be followed by a separator, so prose such as "Related companies ..." stays.
_PROMO_LINE = re.compile(
    r"^(read more|read also|also read|related|see also|more on this( story)?|recommended|"
    r"watch|listen|lesen sie auch|mehr zum thema|lire aussi|à lire aussi|a lire aussi|"
    r"leer más|lee también|leggi anche)\s*[:»›>|]\s*.{0,160}$",
    re.IGNORECASE,
)
_LABEL_LINE = re.compile(
    r"^(advertisement|anzeige|publicité|sponsored( content)?|read more|related (stories|articles)|"
    r"share this (article|story)|skip advertisement)$",
    re.IGNORECASE,
)


def clean_lines(text: str) -> list[str]:
    """Trafilatura's text as lines, whitespace normalised, "Read more:"-style lines dropped."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [
        line
        for line in lines
        if line and not _PROMO_LINE.match(line) and not _LABEL_LINE.match(line)
    ]


def clean_text(text: str) -> str:
    """`clean_lines` joined with newlines."""
    return "\n".join(clean_lines(text))


_HTML_SIGNATURE = re.compile(
    rb"<(!doctype\s+html|html|head|body|meta|title|div|p|article|main|section|h1|table)[\s>/]",
    re.IGNORECASE,
)
_NOT_HTML_ROOT = re.compile(rb"<(rss|feed|urlset|sitemapindex|rdf:rdf|svg)[\s>]", re.I)
_BINARY_MAGIC = (b"%PDF", b"\x1f\x8b", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff")


def _require_html(content: bytes, url: str) -> None:
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ExtractionError(url, "not an HTML page: empty document")
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        raise ExtractionError(url, "not an HTML page: binary content")
    has_html = _HTML_SIGNATURE.search(head)
    feed_root = _NOT_HTML_ROOT.search(head)
    if feed_root and (not has_html or feed_root.start() < has_html.start()):
        name = feed_root.group(1).decode("ascii", "replace").lower()
        raise ExtractionError(url, f"not an HTML page: an XML <{name}> document")
    if not has_html:
        raise ExtractionError(url, "not an HTML page: no HTML markup at the start")


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _canonical(declared: str | None, url: str) -> str:
    try:
        fallback = canonical_url(url)
    except ValueError as exc:
        raise ExtractionError(url, f"bad page URL: {exc}") from exc
    if not declared:
        return fallback
    try:
        candidate = canonical_url(declared, url)
    except ValueError:
        return fallback
    if not is_http_url(candidate):
        return fallback
    # Sites that point every page's canonical at their home page would merge all articles.
    if _path(candidate) == "/" and _path(fallback) != "/":
        return fallback
    return candidate


def _path(url: str) -> str:
    return url.split("://", 1)[-1].partition("/")[2].partition("?")[0] or "/"


# Meta tags with a full timestamp; htmldate reports only the day.
_TIMESTAMP_XPATH = (
    "//meta[@property='article:published_time' or @name='article:published_time'"
    " or @itemprop='datePublished' or @name='pubdate' or @name='publishdate'"
    " or @name='date' or @name='dc.date' or @name='DC.date.issued']/@content"
    " | //time[@datetime][1]/@datetime"
)


def _published_at(day: str | None, tree: Any) -> datetime | None:
    """htmldate's publication day, refined to a timestamp from a meta tag on that day."""
    if not day:
        return None
    try:
        found = date.fromisoformat(day[:10])
    except ValueError:
        return None
    for value in tree.xpath(_TIMESTAMP_XPATH):
        try:
            stamp = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        if stamp.date() == found and ("T" in str(value) or " " in str(value).strip()):
            return _as_utc(stamp)
    return datetime(found.year, found.month, found.day, tzinfo=UTC)


_LANG_XPATH = (
    "/html/@lang | /html/@xml:lang"
    " | //meta[translate(@http-equiv,'CONTENT-LANGUAGE','content-language')"
    "='content-language']/@content"
    " | //meta[@property='og:locale']/@content"
)
_LANG_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$")


def _language(tree: Any) -> str | None:
    """Primary language subtag ("en" for "en-GB") declared by the page, if any."""
    for value in tree.xpath(_LANG_XPATH):
        match = _LANG_TAG.match(str(value).split(",")[0].strip())
        if match:
            return match.group(1).lower()
    return None


def _first_line(text: str) -> str:
    line = text.split("\n", 1)[0]
    return line if len(line) <= 160 else line[:157].rstrip() + "..."
