"""The pipeline's steps as plain functions, strung together by flows/monitor.py.

No Prefect here, so each step runs and tests without an API server.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts.outbox import UPDATE_KEY_PREFIX
from classifiers.events import (
    INDEX_TERMS,
    LINE_INDEX_TERMS,
    EventFeatures,
    FrequencyTable,
    add_to_centroid,
    extract_features,
    lead_vector,
    normalised,
    text_vector,
    top_terms,
)
from classifiers.fingerprint import (
    DEFAULT_MAX_DISTANCE,
    from_signed64,
    simhash,
    text_hash,
    to_signed64,
)
from classifiers.stories import (
    CENTROID_TERMS,
    EVENT_CANDIDATES,
    EVENT_WINDOW_DAYS,
    STORYLINES_PER_TERM,
    EventCandidate,
    StorylineCandidate,
    best_storyline,
    decide_alert,
    decide_update_alert,
    matched_watches,
    nearest_duplicate,
    same_event_story,
    text_change,
)
from classifiers.watches import Watch, classify, compile_watch
from extractors.bodies import accept_for_kind
from extractors.http import Fetcher, FetchError, FetchPolicy
from extractors.links import LinkDiscoveryError, discover_links, parse_sitemap
from flows.jobs import ExtractResult, Prepared, prepare
from newswatch.config import HttpConfig, Settings, SourceConfig
from newswatch.models import Article, Link, Match, Page
from storage import repo, story_rows
from storage.db import Database
from storage.models import Source as SourceRow
from storage.story_rows import StoryState

# "skipped": still backing off after earlier failures, not polled in this run.
SourceStatus = Literal["ok", "not_modified", "failed", "skipped"]
MAX_CHILD_SITEMAPS = 3


@dataclass(slots=True)
class SourceOutcome:
    """One source in one run. For a failed poll, `error` is the reason and `error_kind`
    its kind (a FetchError kind, "parse" for a listing that cannot be read, "internal"
    for a bug); for a skipped source, both are those of the failure it is backing off
    from. `next_poll_at` and `consecutive_failures` are the source's schedule after the
    run."""

    name: str
    status: SourceStatus
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    links_found: int = 0
    new_links: int = 0
    fetch_failures: list[tuple[str, str]] = field(default_factory=list)
    links_to_fetch: list[str] = field(default_factory=list)  # the new links, in order
    fetched: int = 0
    error_kind: str | None = None
    retry_after: float | None = None  # seconds the server asked for (Retry-After)
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0

    @classmethod
    def failed(cls, name: str, reason: str, kind: str = "internal") -> SourceOutcome:
        return cls(name=name, status="failed", error=reason, error_kind=kind)

    @classmethod
    def from_error(cls, name: str, exc: BaseException) -> SourceOutcome:
        """The failed outcome of a poll that raised `exc`, with its reason and kind."""
        if isinstance(exc, FetchError):
            outcome = cls.failed(name, str(exc), exc.kind)
            outcome.retry_after = exc.retry_after
            return outcome
        if isinstance(exc, LinkDiscoveryError):
            return cls.failed(name, str(exc), "parse")
        return cls.failed(name, f"unexpected error: {exc!r}", "internal")

    @classmethod
    def backing_off(
        cls,
        name: str,
        *,
        until: datetime,
        failures: int,
        error: str | None,
        error_kind: str | None,
    ) -> SourceOutcome:
        """A source not polled in this run: its back-off lasts until `until`."""
        return cls(
            name=name,
            status="skipped",
            error=error,
            error_kind=error_kind,
            next_poll_at=until,
            consecutive_failures=failures,
        )

    def scheduled(self, row: SourceRow | None) -> None:
        """Take the schedule the database now holds for this source."""
        if row is not None:
            self.next_poll_at = row.next_poll_at
            self.consecutive_failures = row.consecutive_failures


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
        contact_url=http.contact_url,
        per_host_min_delay_s=http.per_host_min_delay_s,
        respect_robots=http.respect_robots,
        max_retries=http.max_retries,
        max_retry_wait_s=http.max_retry_wait_s,
    )


async def discover(
    source: SourceConfig,
    fetcher: Fetcher,
    db: Database,
    settings: Settings,
    claimed: set[str] | None = None,
) -> SourceOutcome:
    """Poll one source: the links it lists that were never stored, and the ones that
    failed before (even when the listing itself has not changed), in `links_to_fetch`.

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
    listing = await fetcher.get(
        source.url, etag=etag, last_modified=last_modified, accept=accept_for_kind(source.kind)
    )
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
    outcome.links_to_fetch = new
    return outcome


@dataclass(frozen=True, slots=True)
class BatchResult:
    per_source: dict[str, dict[str, int]]
    errors: list[str]
    seconds: dict[str, float] = field(default_factory=dict)  # per stage


async def _links_of(
    source: SourceConfig, listing: Page, fetcher: Fetcher, limit: int
) -> list[Link]:
    if source.kind != "sitemap":
        return discover_links(source.kind, listing.content, listing.final_url, limit=limit)
    result = parse_sitemap(listing.content, listing.final_url, limit=limit)
    links = list(result.links)
    # A sitemap index lists child sitemaps; read the first few (news sites list the newest).
    for child in result.child_sitemaps[:MAX_CHILD_SITEMAPS]:
        page = await fetcher.get(child, accept=accept_for_kind("sitemap"))
        links.extend(parse_sitemap(page.content, page.final_url, limit=limit).links)
    return links[:limit]


@dataclass(frozen=True, slots=True)
class StoryContext:
    """What storing articles needs besides the articles: the watches, the alert channels and
    the window in which a copy is still a copy."""

    watches: list[Watch]
    channels: list[str]
    near_duplicate_days: int = 14
    # Event candidates' parsed features by article id, with the text hash and title they
    # were computed from, kept over the run: an earlier article is a candidate of many later
    # ones, and its features were decoded for each. Cleared when a transaction is rolled
    # back (its ids may be reused); an entry whose text hash or title no longer matches the
    # row (text replaced, another database) is read again.
    features: dict[int, tuple[tuple[str, str], EventFeatures | None]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> StoryContext:
        return cls(
            watches=[
                compile_watch(n, spec) for n, spec in settings.watches.items() if spec.enabled
            ],
            channels=list(settings.channels),
            near_duplicate_days=settings.pipeline.near_duplicate_days,
        )


def store_batch(
    results: Sequence[ExtractResult],
    db: Database,
    settings: Settings,
    source_ids: dict[str, int],
    *,
    fetch_failures: Sequence[tuple[str, str, str]] = (),
    context: StoryContext | None = None,
    term_memory: dict[str, int] | None = None,
) -> BatchResult:
    """Dedup, classify and store a batch of articles; count per source.

    One transaction for the batch (a commit per article cost more than most of the work).
    If it fails, the batch is stored again one article per transaction, so an article that
    cannot be stored costs only itself. `fetch_failures` are (source, link, reason) of pages
    that could not be fetched: their links are recorded as failed, to be retried later.
    `term_memory`, given the same dict for each batch of a run, keeps document frequencies
    read (or written) by earlier batches, so common terms are read once per run.
    """
    context = context or StoryContext.from_settings(settings)
    # Oldest first, so that of two copies of a story the first published is the original.
    ordered = sorted(results, key=_publication_order)
    seconds: dict[str, float] = defaultdict(float)
    try:
        with db.session() as session:
            terms = repo.TermCache(session, term_memory)
            counts: dict[str, Counter[str]] = defaultdict(Counter)
            links: list[repo.LinkRecord] = []
            for result in ordered:
                outcome = _store_one(session, context, result, terms, seconds)
                counts[result.job.source].update(outcome.counts)
                links.append(_link_record(result, source_ids, outcome))
            links += _failed_links(fetch_failures, source_ids)
            start = time.perf_counter()
            terms.flush()
            repo.record_links(session, links)
            session.flush()
        seconds["store"] += time.perf_counter() - start  # the flush and the commit
        return BatchResult({n: dict(c) for n, c in counts.items()}, [], dict(seconds))
    except SQLAlchemyError:
        if term_memory is not None:
            term_memory.clear()  # it may hold counts of the transaction rolled back
        context.features.clear()  # ... and features of its rows
        return _store_one_by_one(ordered, db, context, source_ids, fetch_failures)


def _store_one_by_one(
    ordered: Sequence[ExtractResult],
    db: Database,
    context: StoryContext,
    source_ids: dict[str, int],
    fetch_failures: Sequence[tuple[str, str, str]],
) -> BatchResult:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    errors: list[str] = []
    seconds: dict[str, float] = defaultdict(float)
    for source, url, reason in fetch_failures:
        with db.session() as session:
            repo.record_links(session, _failed_links([(source, url, reason)], source_ids))
    for result in ordered:
        try:
            with db.session() as session:
                terms = repo.TermCache(session)
                outcome = _store_one(session, context, result, terms, seconds)
                terms.flush()
                repo.record_links(session, [_link_record(result, source_ids, outcome)])
        except SQLAlchemyError as exc:
            context.features.clear()  # it may hold features of rows rolled back
            # Its link stays unrecorded, so the next run tries it again.
            counts[result.job.source]["store_failed"] += 1
            errors.append(
                f"{result.job.link}: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"
            )
            continue
        counts[result.job.source].update(outcome.counts)
    return BatchResult({n: dict(c) for n, c in counts.items()}, errors, dict(seconds))


@dataclass(frozen=True, slots=True)
class _Stored:
    counts: Counter[str]
    placement: Placement | None  # None: extraction failed


def _store_one(
    session: Session,
    context: StoryContext,
    result: ExtractResult,
    terms: repo.TermCache,
    seconds: dict[str, float],
) -> _Stored:
    for stage, spent in result.seconds.items():
        seconds[stage] += spent  # spent in an extraction worker
    if result.article is None:
        return _Stored(Counter(extract_failed=1), None)
    placed = store_article(
        session,
        context,
        result.article,
        datetime.now(UTC),
        prepared=result.prepared,
        terms=terms,
        seconds=seconds,
    )
    return _Stored(placed.counts(), placed)


def _link_record(
    result: ExtractResult, source_ids: dict[str, int], stored: _Stored
) -> repo.LinkRecord:
    placed = stored.placement
    return repo.LinkRecord(
        url=result.job.link,
        source_id=source_ids[result.job.source],
        outcome="failed" if placed is None else "duplicate" if placed.duplicate else "stored",
        at=datetime.now(UTC),
        error=result.error if placed is None else None,
        article_id=placed.article_id if placed else None,
    )


def _failed_links(
    failures: Sequence[tuple[str, str, str]], source_ids: dict[str, int]
) -> list[repo.LinkRecord]:
    now = datetime.now(UTC)
    return [
        repo.LinkRecord(url, source_ids[source], "failed", now, reason, None)
        for source, url, reason in failures
    ]


def store_article(
    session: Session,
    context: StoryContext,
    article: Article,
    now: datetime,
    *,
    prepared: Prepared | None = None,
    terms: repo.TermCache | None = None,
    seconds: dict[str, float] | None = None,
) -> Placement:
    """Store one article in its story (and the story in its storyline), queueing the alert it
    causes; the one path every article takes, in the flow and in `newswatch eval stories`.

    `prepared` (else computed here) is what the text alone gives; `terms` caches document
    frequencies over a batch (else read for this article alone); `seconds` gathers the time
    per stage."""
    clock = _Clock(seconds if seconds is not None else defaultdict(float))
    stored = repo.stored_text(session, article.canonical_url)
    if stored is not None:
        placement = _refetched(session, context, article, stored, now)
        clock.lap("store")
        return placement
    prepared = prepared or prepare(article, context.watches)
    clock.restart()
    cache = terms or repo.TermCache(session)
    placement = _place(session, context, article, now, prepared, cache, clock)
    if terms is None:
        cache.flush()
        clock.lap("store")
    return placement


class _Clock:
    """Adds the time since the last lap to a stage."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.last = time.perf_counter()

    def restart(self) -> None:
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now


def _place(
    session: Session,
    context: StoryContext,
    article: Article,
    now: datetime,
    prepared: Prepared,
    terms: repo.TermCache,
    clock: _Clock,
) -> Placement:
    digest, fingerprint, features = prepared.text_hash, prepared.fingerprint, prepared.features
    seen_at = article.published_at or article.fetched_at
    documents, frequencies = terms.frequencies(features.vocabulary())
    vector = text_vector(features, FrequencyTable(documents, frequencies))
    key_terms = top_terms(vector, INDEX_TERMS)
    copy_window = timedelta(days=max(context.near_duplicate_days, EVENT_WINDOW_DAYS))
    memory = context.features
    candidates = repo.event_candidates(
        session,
        key_terms,
        seen_at - copy_window,
        seen_at + copy_window,
        EVENT_CANDIDATES,
        known=lambda id_, source: id_ in memory and memory[id_][0] == source,
    )
    original = repo.article_by_text_hash(session, digest) or _near_duplicate(
        fingerprint, candidates
    )
    matches = list(prepared.matches)
    watches = matched_watches(matches)
    clock.lap("dedup")

    def insert(story_id: int) -> int:
        """The article's row, in its story already (no UPDATE of it for the story)."""
        return repo.insert_article(
            session,
            article,
            text_hash=digest,
            fingerprint=to_signed64(fingerprint),
            matches=matches,
            duplicate_of=original,
            features=features.to_json(),
            event_at=seen_at,
            story_id=story_id,
            now=now,
        )

    if original is not None and original.story_id is not None:
        # A copy joins its original's story, and counts for nothing else: not in the term
        # statistics, the indexes or the storyline's centroid.
        article_id = insert(original.story_id)
        clock.lap("store")
        story = story_rows.add_to_story(
            session, original.story_id, watches=watches, seen_at=seen_at
        )
        clock.lap("dedup")
        placement = _finish(
            session, context, article_id, story, matches, now, is_copy=True, new=False
        )
        clock.lap("alert")
        return placement

    # The story is chosen before the article's row is written: nothing it reads (earlier
    # articles' postings, storylines) includes this article.
    terms.count(features.vocabulary())
    parsed = [(c, _candidate_features(memory, c)) for c in candidates]  # parsed once a run
    stats = _stats_with_candidates(terms, features, [f for _, f in parsed if f is not None])
    joined = same_event_story(
        text_vector(features, stats),
        seen_at,
        (
            EventCandidate(c.story_id, c.seen_at, text_vector(f, stats))
            for c, f in parsed
            if c.story_id is not None and f is not None
        ),
    )
    lead = lead_vector(features, stats)
    line_terms = top_terms(lead, LINE_INDEX_TERMS)
    fresh_line = False  # a storyline opened here: the story is alone in it
    if joined is not None:
        story_id, new = joined[0], False
    else:
        storyline = best_storyline(
            lead,
            (
                StorylineCandidate(c.id, normalised(c.centroid))
                for c in repo.storyline_candidates(session, line_terms, STORYLINES_PER_TERM)
            ),
        )
        story_id = story_rows.open_story(
            session, article.title, seen_at, storyline[0] if storyline else None
        )
        new, fresh_line = True, storyline is None
    clock.lap("dedup")
    article_id = insert(story_id)
    repo.index_article_terms(session, article_id, key_terms, seen_at)
    clock.lap("store")
    story = story_rows.add_to_story(
        session,
        story_id,
        watches=watches,
        seen_at=seen_at,
        centroid=lambda c: add_to_centroid(c, lead, CENTROID_TERMS),
    )
    if story.storyline_id is not None:
        repo.index_storyline_terms(
            session, story.storyline_id, line_terms, seen_at, fresh=fresh_line
        )
    clock.lap("dedup")
    placement = _finish(
        session, context, article_id, story, matches, now, is_copy=False, new=new, alone=fresh_line
    )
    clock.lap("alert")
    return placement


def _candidate_features(
    memory: dict[int, tuple[tuple[str, str], EventFeatures | None]],
    candidate: repo.EventCandidateRow,
) -> EventFeatures | None:
    """The candidate's features (None if it has none), parsed once per run."""
    if candidate.features is None:
        return memory[candidate.id][1]
    parsed = EventFeatures.from_json(candidate.features) if candidate.features else None
    memory[candidate.id] = (candidate.source, parsed)
    return parsed


def _near_duplicate(
    fingerprint: int, candidates: Sequence[repo.EventCandidateRow]
) -> repo.Fingerprinted | None:
    """The candidate this text nearly copies (SimHash within DEFAULT_MAX_DISTANCE bits)."""
    by_id = {c.id: c for c in candidates}
    near = nearest_duplicate(
        fingerprint,
        ((c.id, from_signed64(c.fingerprint)) for c in candidates),
        DEFAULT_MAX_DISTANCE,
    )
    if near is None:
        return None
    return repo.Fingerprinted(near, by_id[near].fingerprint, by_id[near].story_id)


def _stats_with_candidates(
    terms: repo.TermCache, features: EventFeatures, candidates: Sequence[EventFeatures]
) -> FrequencyTable:
    """Frequencies (now counting the new article) of its terms and its candidates' terms,
    so every vector compared is weighted by the same statistics."""
    vocabulary = features.vocabulary()
    for candidate in candidates:
        vocabulary.update(candidate.vocabulary())
    documents, known = terms.frequencies(vocabulary)
    return FrequencyTable(documents, known)


def _finish(
    session: Session,
    context: StoryContext,
    article_id: int,
    story: StoryState,
    matches: Sequence[Match],
    now: datetime,
    *,
    is_copy: bool,
    new: bool,
    alone: bool = False,
) -> Placement:
    """`alone`: the story's storyline was opened for it in this transaction, so it has no
    earlier stories (no query needed)."""
    earlier = (
        story_rows.earlier_story_ids(session, story.storyline_id, story.id, story.first_seen_at)
        if story.storyline_id is not None and not alone
        else []
    )
    kind = decide_alert(
        matches,
        is_copy=is_copy,
        story_alerted=story.alerted_at is not None,
        in_storyline=bool(earlier),
    )
    alert_id = None
    if kind is not None:
        alert_id = story_rows.queue_alert(
            session,
            story_id=story.id,
            article_id=article_id,
            kind=kind,
            watches=matched_watches(matches),
            dedup_key=f"{kind}:{story.id}",
            channels=context.channels,
            now=now,
        )
    return Placement(
        article_id=article_id,
        story_id=story.id,
        storyline_id=story.storyline_id,
        duplicate=is_copy,
        new_story=new,
        matched=bool(matches),
        earlier_stories=tuple(earlier) if new else (),
        alert_id=alert_id,
        alert_kind=kind,
    )


def _refetched(
    session: Session,
    context: StoryContext,
    article: Article,
    stored: repo.StoredText,
    now: datetime,
) -> Placement:
    """A page whose canonical URL is stored already: the same text (or a cosmetic change) is
    a duplicate and never alerts; a material change (a correction, new facts) replaces the
    stored text and is a development of the article's own story."""
    digest = text_hash(article.text)
    placement = Placement(
        article_id=stored.id,
        story_id=stored.story_id,
        storyline_id=None,
        duplicate=True,
        new_story=False,
        matched=False,
        refetched=True,
    )
    if digest == stored.text_hash:
        return placement
    fingerprint = simhash(article.text)
    change = text_change(stored.text, article.text, from_signed64(stored.fingerprint), fingerprint)
    if not change.material:
        return placement
    context.features.pop(stored.id, None)  # its features are replaced
    matches = [m for m in classify(context.watches, article.title, article.text) if m.matched]
    repo.update_article_text(
        session,
        stored.id,
        article,
        text_hash=digest,
        fingerprint=to_signed64(fingerprint),
        features=extract_features(article.title, article.text).to_json(),
        matches=matches,
        now=now,
    )
    kind = decide_update_alert(matches, change)
    if kind is None or stored.story_id is None:
        return replace(placement, duplicate=False, updated=True, matched=bool(matches))
    alert_id = story_rows.queue_alert(
        session,
        story_id=stored.story_id,
        article_id=stored.id,
        kind=kind,
        watches=matched_watches(matches),
        dedup_key=f"{UPDATE_KEY_PREFIX}{stored.id}:{digest[:16]}",
        channels=context.channels,
        now=now,
    )
    return replace(
        placement,
        duplicate=False,
        updated=True,
        matched=True,
        alert_id=alert_id,
        alert_kind=kind,
    )


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an article went: its story and storyline, whether it was a copy, a new story
    (with the storyline's earlier stories it links to) or an update, and its alert."""

    article_id: int
    story_id: int | None
    storyline_id: int | None
    duplicate: bool
    new_story: bool
    matched: bool
    earlier_stories: tuple[int, ...] = ()
    refetched: bool = False  # its canonical URL was stored already
    updated: bool = False  # ... and its text changed materially: the stored text replaced
    alert_id: int | None = None
    alert_kind: str | None = None

    def counts(self) -> Counter[str]:
        return Counter(
            stored=int(not self.refetched),
            duplicates=int(self.duplicate),
            updated=int(self.updated),
            matched=int(self.matched),
            alerts=int(self.alert_id is not None),
        )


def _publication_order(result: ExtractResult) -> tuple[bool, datetime]:
    published = result.article.published_at if result.article else None
    return (published is None, published or result.job.fetched_at)


@dataclass(slots=True)
class RunSummary:
    started_at: datetime
    finished_at: datetime | None = None
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # busy time per stage

    def add_source(self, outcome: SourceOutcome, stored: dict[str, int]) -> None:
        failures = len(outcome.fetch_failures) + stored.get("extract_failed", 0)
        self.sources[outcome.name] = {
            "status": outcome.status,
            "error": outcome.error,
            "links": outcome.links_found,
            "new_links": outcome.new_links,
            "fetched": outcome.fetched,
            "page_failures": failures + stored.get("store_failed", 0),
            "stored": stored.get("stored", 0),
            "duplicates": stored.get("duplicates", 0),
            "matched": stored.get("matched", 0),
            "alerts": stored.get("alerts", 0),
            "failure_examples": [f"{u}: {r}" for u, r in outcome.fetch_failures[:3]],
            "error_kind": outcome.error_kind,
            "next_poll_at": _iso(outcome.next_poll_at),
            "consecutive_failures": outcome.consecutive_failures,
        }

    def source_line(self, name: str) -> str:
        row = self.sources[name]
        if row["status"] == "failed":
            line = f"source {name}: FAILED ({row['error_kind']}): {row['error']}"
            if row["next_poll_at"]:
                line += (
                    f"; {row['consecutive_failures']} failure(s) in a row, "
                    f"next poll after {row['next_poll_at']}"
                )
            return line
        if row["status"] == "skipped":
            return (
                f"source {name}: backing off until {row['next_poll_at']} after "
                f"{row['consecutive_failures']} failure(s) in a row "
                f"(last: {row['error_kind']}: {row['error']})"
            )
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
        totals["sources_skipped"] = sum(r["status"] == "skipped" for r in self.sources.values())
        return totals

    def totals_line(self) -> str:
        t = self.totals()
        d = self.deliveries
        return (
            f"run finished: {t['sources']} sources ({t['sources_failed']} failed, "
            f"{t['sources_skipped']} backing off), "
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
            "stage_seconds": self.stage_seconds,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
