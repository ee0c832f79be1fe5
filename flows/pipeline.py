"""The pipeline's steps as plain functions, strung together by flows/monitor.py.

No Prefect here, so each step runs and tests without an API server.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from classifiers.fingerprint import (
    DEFAULT_MAX_DISTANCE,
    from_signed64,
    simhash,
    text_hash,
    to_signed64,
)
from classifiers.stories import decide_alert, nearest_duplicate
from classifiers.watches import Watch, classify, compile_watch
from extractors.http import Fetcher, FetchError, FetchPolicy
from extractors.links import discover_links, parse_sitemap
from newswatch.config import HttpConfig, Settings, SourceConfig
from newswatch.models import Article, Link, Page
from storage import repo
from storage.db import Database

SourceStatus = Literal["ok", "not_modified", "failed"]
MAX_CHILD_SITEMAPS = 3


@dataclass(frozen=True, slots=True)
class PageJob:
    """A fetched page waiting for extraction, with the link it was found under."""

    source: str
    link: str
    page: Page
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class ExtractResult:
    job: PageJob
    article: Article | None
    error: str | None


@dataclass(slots=True)
class SourceOutcome:
    name: str
    status: SourceStatus
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    links_found: int = 0
    new_links: int = 0
    fetch_failures: list[tuple[str, str]] = field(default_factory=list)
    jobs: list[PageJob] = field(default_factory=list)

    @classmethod
    def failed(cls, name: str, reason: str) -> SourceOutcome:
        return cls(name=name, status="failed", error=reason)


def fetch_policy(http: HttpConfig) -> FetchPolicy:
    return FetchPolicy(
        user_agent=http.user_agent,
        connect_timeout=http.connect_timeout_s,
        read_timeout=http.read_timeout_s,
        total_timeout_s=http.total_timeout_s,
        max_bytes=http.max_bytes,
        max_redirects=http.max_redirects,
        per_host_concurrency=http.per_host_concurrency,
        allow_private_addresses=http.allow_private_addresses,
        allowed_hosts=frozenset(http.allowed_hosts),
    )


async def discover(
    source: SourceConfig,
    fetcher: Fetcher,
    db: Database,
    settings: Settings,
    claimed: set[str] | None = None,
) -> SourceOutcome:
    """Poll one source; fetch the pages it lists that were never stored, and retry the
    ones that failed before (even when the listing itself has not changed).

    `claimed` holds the links other sources of the same run are already fetching, so two
    sources listing one article fetch it once.
    """
    claimed = set() if claimed is None else claimed
    max_attempts = settings.http.max_link_attempts
    with db.session() as session:
        row = repo.get_source(session, source.name)
        if row is None:
            raise LookupError(f"source {source.name!r} is not in the database")
        source_id, etag, last_modified = row.id, row.etag, row.last_modified
        retry = repo.retryable_links(session, source_id, max_attempts)
    listing = await fetcher.get(source.url, etag=etag, last_modified=last_modified)
    cap = source.max_new_links or settings.http.max_new_links_per_source
    if listing.not_modified:
        outcome = SourceOutcome(source.name, "not_modified", etag=etag, last_modified=last_modified)
        links: list[Link] = []
    else:
        links = await _links_of(source, listing, fetcher, limit=max(cap * 5, 500))
        outcome = SourceOutcome(
            source.name,
            "ok",
            etag=listing.etag,
            last_modified=listing.last_modified,
            links_found=len(links),
        )
    with db.session() as session:
        unseen = repo.unseen_links(session, [link.url for link in links] + retry, max_attempts)
    new = [url for url in unseen if url not in claimed][:cap]
    claimed.update(new)
    outcome.new_links = len(new)

    pages = await asyncio.gather(*(fetcher.get(url) for url in new), return_exceptions=True)
    now = datetime.now(UTC)
    for url, page in zip(new, pages, strict=True):
        if isinstance(page, FetchError):
            outcome.fetch_failures.append((url, page.reason))
        elif isinstance(page, BaseException):
            raise page
        else:
            outcome.jobs.append(PageJob(source.name, url, page, now))
    if outcome.fetch_failures:
        with db.session() as session:
            for url, reason in outcome.fetch_failures:
                repo.record_link(session, url, source_id, outcome="failed", at=now, error=reason)
    return outcome


@dataclass(frozen=True, slots=True)
class BatchResult:
    per_source: dict[str, dict[str, int]]
    errors: list[str]


async def _links_of(
    source: SourceConfig, listing: Page, fetcher: Fetcher, limit: int
) -> list[Link]:
    if source.kind != "sitemap":
        return discover_links(source.kind, listing.content, listing.final_url, limit=limit)
    result = parse_sitemap(listing.content, listing.final_url, limit=limit)
    links = list(result.links)
    # A sitemap index lists child sitemaps; read the first few (news sites list the newest).
    for child in result.child_sitemaps[:MAX_CHILD_SITEMAPS]:
        page = await fetcher.get(child)
        links.extend(parse_sitemap(page.content, page.final_url, limit=limit).links)
    return links[:limit]


@dataclass(slots=True)
class _Batch:
    """What storing a batch needs besides the articles: watches, channels, and the
    fingerprints of recent originals (updated as the batch adds originals)."""

    watches: list[Watch]
    channels: list[str]
    recent: dict[int, tuple[int, int | None]]  # article id -> (SimHash, story id)

    def original_of(
        self, session: Session, digest: str, fingerprint: int
    ) -> repo.Fingerprinted | None:
        """The stored article this text copies: same normalised text, else a near-duplicate."""
        exact = repo.article_by_text_hash(session, digest)
        if exact is not None:
            return exact
        candidates = ((key, fp) for key, (fp, _) in self.recent.items())
        near = nearest_duplicate(fingerprint, candidates, DEFAULT_MAX_DISTANCE)
        if near is None:
            return None
        near_fp, story_id = self.recent[near]
        return repo.Fingerprinted(near, to_signed64(near_fp), story_id)


def store_batch(
    results: Sequence[ExtractResult], db: Database, settings: Settings, source_ids: dict[str, int]
) -> BatchResult:
    """Dedup, classify and store each article in its own transaction; count per source."""
    since = datetime.now(UTC) - timedelta(days=settings.pipeline.near_duplicate_days)
    with db.session() as session:
        recent = {
            f.id: (from_signed64(f.fingerprint), f.story_id)
            for f in repo.recent_fingerprints(session, since)
        }
    batch = _Batch(
        watches=[compile_watch(n, spec) for n, spec in settings.watches.items() if spec.enabled],
        channels=list(settings.channels),
        recent=recent,
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    errors: list[str] = []
    # Oldest first, so that of two copies of a story the first published is the original.
    for result in sorted(results, key=_publication_order):
        job = result.job
        source_id = source_ids[job.source]
        now = datetime.now(UTC)
        try:
            with db.session() as session:
                if result.article is None:
                    repo.record_link(
                        session, job.link, source_id, outcome="failed", at=now, error=result.error
                    )
                    counts[job.source]["extract_failed"] += 1
                    continue
                added, new_original = _store_one(
                    session, batch, result.article, job.link, source_id, now
                )
        except SQLAlchemyError as exc:
            # One article that cannot be stored must not cost the rest of the batch; its link
            # stays unrecorded, so the next run tries it again.
            counts[job.source]["store_failed"] += 1
            errors.append(
                f"{job.link}: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"
            )
            continue
        counts[job.source].update(added)
        if new_original is not None:  # only once committed: later copies may point at it
            article_id, fingerprint, story_id = new_original
            batch.recent[article_id] = (fingerprint, story_id)
    return BatchResult({name: dict(c) for name, c in counts.items()}, errors)


def _store_one(
    session: Session, batch: _Batch, article: Article, link: str, source_id: int, now: datetime
) -> tuple[Counter[str], tuple[int, int, int | None] | None]:
    """Store one article; return the counts it adds and, for an original, its fingerprint."""
    existing = repo.article_id_by_url(session, article.canonical_url)
    if existing is not None:
        # Another link (or an earlier run) already led to this canonical article.
        repo.record_link(session, link, source_id, outcome="duplicate", at=now, article_id=existing)
        return Counter(duplicates=1), None
    digest, fingerprint = text_hash(article.text), simhash(article.text)
    original = batch.original_of(session, digest, fingerprint)
    matches = [m for m in classify(batch.watches, article.title, article.text) if m.matched]
    stored = repo.store_article(
        session,
        article,
        text_hash=digest,
        fingerprint=to_signed64(fingerprint),
        matches=matches,
        duplicate_of=original,
        alert_kind=decide_alert(matches, is_copy=original is not None),
        channels=batch.channels,
        now=now,
    )
    repo.record_link(
        session,
        link,
        source_id,
        outcome="duplicate" if original else "stored",
        at=now,
        article_id=stored.article_id,
    )
    added = Counter(
        stored=1,
        duplicates=int(original is not None),
        matched=int(bool(matches)),
        alerts=int(stored.alert_id is not None),
    )
    return added, None if original else (stored.article_id, fingerprint, stored.story_id)


def _publication_order(result: ExtractResult) -> tuple[bool, datetime]:
    published = result.article.published_at if result.article else None
    return (published is None, published or result.job.fetched_at)


@dataclass(slots=True)
class RunSummary:
    started_at: datetime
    finished_at: datetime | None = None
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)

    def add_source(self, outcome: SourceOutcome, stored: dict[str, int]) -> None:
        failures = len(outcome.fetch_failures) + stored.get("extract_failed", 0)
        self.sources[outcome.name] = {
            "status": outcome.status,
            "error": outcome.error,
            "links": outcome.links_found,
            "new_links": outcome.new_links,
            "fetched": len(outcome.jobs),
            "page_failures": failures + stored.get("store_failed", 0),
            "stored": stored.get("stored", 0),
            "duplicates": stored.get("duplicates", 0),
            "matched": stored.get("matched", 0),
            "alerts": stored.get("alerts", 0),
            "failure_examples": [f"{u}: {r}" for u, r in outcome.fetch_failures[:3]],
        }

    def source_line(self, name: str) -> str:
        row = self.sources[name]
        if row["status"] == "failed":
            return f"source {name}: FAILED: {row['error']}"
        if row["status"] == "not_modified":
            return f"source {name}: not modified since last poll"
        return (
            f"source {name}: {row['links']} links, {row['new_links']} new, "
            f"{row['fetched']} fetched, {row['page_failures']} failed, {row['stored']} stored "
            f"({row['duplicates']} duplicates), {row['matched']} matched, {row['alerts']} alerts"
        )

    def totals(self) -> dict[str, int]:
        keys = (
            "new_links",
            "fetched",
            "page_failures",
            "stored",
            "duplicates",
            "matched",
            "alerts",
        )
        totals = {key: sum(int(row[key]) for row in self.sources.values()) for key in keys}
        totals["sources"] = len(self.sources)
        totals["sources_failed"] = sum(r["status"] == "failed" for r in self.sources.values())
        return totals

    def totals_line(self) -> str:
        t = self.totals()
        d = self.deliveries
        return (
            f"run finished: {t['sources']} sources ({t['sources_failed']} failed), "
            f"{t['fetched']} pages fetched, {t['stored']} articles stored, {t['matched']} matched, "
            f"{t['alerts']} alerts; deliveries {d.get('sent', 0)} sent, "
            f"{d.get('retrying', 0)} to retry, {d.get('failed', 0)} failed"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "sources": self.sources,
            "totals": self.totals(),
            "deliveries": self.deliveries,
        }
