"""Title, author, date, site name and canonical URL of a page, from its parsed tree.

Built from trafilatura's own metadata steps (meta tags, JSON-LD, <title>, canonical link,
htmldate) but without the parts the pipeline does not use and that cost most of the time:
categories, tags and licence, and a deep copy of the whole tree for the byline fallback.
The tree is read, never changed, so the same parse serves metadata and main text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from html import unescape
from typing import Any

from htmldate import find_date
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import (
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.xpaths import AUTHOR_XPATHS

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PageMetadata:
    title: str | None = None
    author: str | None = None
    day: str | None = None  # YYYY-MM-DD, as htmldate gives it
    sitename: str | None = None
    url: str | None = None  # the page's declared canonical URL, if any


def page_metadata(tree: Any, url: str, max_day: str) -> PageMetadata:
    """Metadata of the page parsed into `tree`, fetched from `url`.

    `max_day` (YYYY-MM-DD) bounds the publication date: a page is not published after it
    was fetched.
    """
    document: Document = examine_meta(tree)
    if document.author and " " not in document.author:
        document.author = None  # a single token is most often a handle, not a name
    try:
        document = extract_meta_json(tree, document)
    except Exception as exc:  # trafilatura's JSON-LD reader raises on odd data
        _LOG.debug("JSON-LD metadata unreadable on %s: %s", url, exc)
    title = document.title or extract_title(tree)
    declared = document.url or extract_url(tree, None)
    sitename = _sitename(document.sitename or extract_sitename(tree), declared or url)
    day = publication_day(tree, declared or url, max_day)
    return PageMetadata(
        title=_tidy(title),
        author=_tidy(document.author) or byline_author(tree),
        day=day or None,
        sitename=_tidy(sitename),
        url=declared or None,
    )


def publication_day(tree: Any, url: str, max_day: str) -> str | None:
    """htmldate's publication day: its fast search first, its extensive one only when the
    fast one finds nothing.

    The extensive search can hand a date string to dateparser, whose first use loads every
    locale it knows (~40 MB and ~1.5 s per extraction process). On the 181 pages of the
    extraction benchmark, the fast search finds the day of all but two, and the extensive
    one gives the same day on every page where both find one.
    """
    options: dict[str, Any] = {"url": url, "original_date": True, "max_date": max_day}
    return find_date(tree, extensive_search=False, **options) or find_date(
        tree, extensive_search=True, **options
    )


def byline_author(tree: Any) -> str | None:
    """An author from the page's byline markup, for pages whose meta tags name none.

    Trafilatura's byline rules, with its exclusions (comment sections, sidebars, dates,
    figures: a commenter or a caption is not the author) checked on each candidate's
    ancestors instead of pruned from a deep copy of the page.
    """
    for expression in AUTHOR_XPATHS:
        for element in expression(tree):
            if _excluded(element):
                continue
            content = " ".join(" ".join(_byline_text(element)).split())
            if 2 < len(content) < 120:
                return _tidy(normalize_authors(None, content))
    return None


_EXCLUDED_ID = re.compile(r"^comments|comment-?list|ProductReviews")
_EXCLUDED_CLASS = re.compile(
    r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
    r"article-(?:share|support)|print|category|meta-date|meta-reviewer"
)
_EXCLUDABLE_TAGS = frozenset({"a", "div", "section", "span"})
_SKIPPED_TAGS = frozenset({"time", "figure"})


def _excluded_here(element: Any) -> bool:
    if element.tag in _SKIPPED_TAGS:
        return True
    if element.tag not in _EXCLUDABLE_TAGS:
        return False
    ident, classes = element.get("id") or "", element.get("class") or ""
    return (
        ident == "comments"
        or classes in ("comments", "title", "date")
        or bool(ident and _EXCLUDED_ID.search(ident))
        or bool(classes and _EXCLUDED_CLASS.search(classes))
        or "Figure" in (element.get("data-component") or "")
    )


def _excluded(element: Any) -> bool:
    return _excluded_here(element) or any(_excluded_here(a) for a in element.iterancestors())


def _byline_text(element: Any) -> list[str]:
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and not _excluded_here(child):
            parts.extend(_byline_text(child))
        parts.append(child.tail or "")
    return parts


_HOST = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/:?#]+)", re.IGNORECASE)


def _sitename(name: str | None, url: str) -> str | None:
    """The declared site name ("@handle" marks dropped), else the URL's host name."""
    if name:
        name = name.lstrip("@")
        if name and "." not in name and not name[0].isupper():
            name = name.title()  # "oregonlive" -> "Oregonlive", as trafilatura reports it
    if name:
        return name
    host = _HOST.match(url)
    return host.group(1).lower() if host else None


def _tidy(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(unescape(value).split())
    return text[:1000] or None
