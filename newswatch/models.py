"""Plain data shared by every room: what flows between the pipeline's stages.

Nothing here talks to the network, a database or Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SourceKind = Literal["rss", "atom", "sitemap", "html_index"]


@dataclass(frozen=True, slots=True)
class Link:
    """An article link found on a source (feed entry, sitemap URL, index-page anchor)."""

    url: str
    title: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched HTTP response body with the metadata later stages need."""

    url: str  # the URL that was asked for
    final_url: str  # after redirects
    status: int
    content: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Article:
    """One extracted news article: main text and metadata, boilerplate removed."""

    url: str
    canonical_url: str
    source: str
    title: str
    text: str
    fetched_at: datetime
    author: str | None = None
    published_at: datetime | None = None
    sitename: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """A sentence that made a watch fire, with the terms found in it."""

    sentence: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of scoring one article against one watch."""

    watch: str
    score: float
    threshold: float
    matched: bool
    terms: tuple[str, ...]  # every term that fired, most weight first
    evidence: tuple[Evidence, ...] = field(default=())
    reason: str = ""  # one line: why it matched, or why not (e.g. "no required context")
