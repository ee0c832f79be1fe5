"""What travels between the flow and its extraction workers: fetched pages in, prepared
articles out, and `prepare`, the per-article work that needs only the text.

Kept apart from flows.pipeline so spawned workers import no database or alerting code
(tens of megabytes per worker).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from classifiers.events import EventFeatures, extract_features
from classifiers.fingerprint import simhash, text_hash
from classifiers.watches import Scorer, Watch, classify
from newswatch.models import Article, Match, Page


@dataclass(frozen=True, slots=True)
class PageJob:
    """A fetched page waiting for extraction, with the link it was found under."""

    source: str
    link: str
    page: Page
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class Prepared:
    """What storing an article computes from its text alone (hashes, event features, the
    watches' matches): done in the extraction workers, off the flow's own process."""

    text_hash: str
    fingerprint: int  # unsigned SimHash
    features: EventFeatures
    matches: tuple[Match, ...]  # the matched watches only
    seconds: dict[str, float] = field(default_factory=dict)  # dedup, classify


def prepare(article: Article, watches: Sequence[Watch | Scorer]) -> Prepared:
    start = time.perf_counter()
    digest, fingerprint = text_hash(article.text), simhash(article.text)
    features = extract_features(article.title, article.text)
    hashed = time.perf_counter()
    matches = tuple(m for m in classify(watches, article.title, article.text) if m.matched)
    seconds = {"dedup": hashed - start, "classify": time.perf_counter() - hashed}
    return Prepared(digest, fingerprint, features, matches, seconds)


@dataclass(frozen=True, slots=True)
class ExtractResult:
    job: PageJob
    article: Article | None
    error: str | None
    prepared: Prepared | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # extract, dedup, classify
