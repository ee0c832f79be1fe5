"""Repository functions: the SQL newswatch runs lives here (and, for placing an article in
its story, in storage.story_rows)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import (
    Table,
    TextualSelect,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import insert as core_insert
from sqlalchemy.orm import Session, selectinload

from newswatch.models import Article as ArticleData
from newswatch.models import Match
from storage.models import (
    DOCUMENTS_TERM,
    Alert,
    Article,
    ArticleTerm,
    Delivery,
    Link,
    MatchRow,
    Source,
    Story,
    Storyline,
    StorylineTerm,
    TermStat,
)
from storage.story_rows import add_to_story, earlier_story_ids, open_story, queue_alert

# --- sources -------------------------------------------------------------------------------


def sync_source(session: Session, name: str, kind: str, url: str, enabled: bool) -> Source:
    """Create or update a source row from the config; a changed URL forgets its validators."""
    source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if source is None:
        source = Source(name=name, kind=kind, url=url, enabled=enabled, consecutive_failures=0)
        session.add(source)
    else:
        if source.url != url or source.kind != kind:
            source.etag = None
            source.last_modified = None
            # A new address deserves a fresh try: the back-off was about the old one.
            source.consecutive_failures = 0
            source.next_poll_at = None
        source.kind, source.url, source.enabled = kind, url, enabled
    session.flush()
    return source


def get_source(session: Session, name: str) -> Source | None:
    return session.scalars(select(Source).where(Source.name == name)).one_or_none()


def list_sources(session: Session) -> Sequence[Source]:
    return session.scalars(select(Source).order_by(Source.name)).all()


def record_poll(
    session: Session,
    name: str,
    *,
    status: Literal["ok", "not_modified", "failed", "skipped"],
    polled_at: datetime,
    error: str | None = None,
    error_kind: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    backoff: Callable[[int, datetime], datetime | None] | None = None,
) -> Source | None:
    """Remember a poll's outcome; validators are kept only from a successful poll.

    A failure counts one more consecutive failure and, given `backoff` (consecutive
    failures, poll time -> when the source may be polled again), schedules the next poll;
    a success clears both. "skipped" (a source still backing off was not polled) changes
    nothing. Returns the source row, or None if there is no source of that name.
    """
    source = get_source(session, name)
    if source is None or status == "skipped":
        return source
    source.last_polled_at = polled_at
    source.last_status = status
    source.last_error = error
    source.last_error_kind = error_kind if status == "failed" else None
    if status == "failed":
        source.consecutive_failures += 1
        source.next_poll_at = (
            backoff(source.consecutive_failures, polled_at) if backoff is not None else None
        )
        return source
    source.consecutive_failures = 0
    source.next_poll_at = None
    if status == "ok":
        source.etag, source.last_modified = etag, last_modified
    return source


def source_schedule(session: Session, names: Sequence[str]) -> dict[str, Source]:
    """The rows of these sources (those that exist), to tell which are due for a poll."""
    if not names:
        return {}
    rows = session.scalars(select(Source).where(Source.name.in_(list(names)))).all()
    return {row.name: row for row in rows}


def source_article_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Article.source, func.count()).group_by(Article.source)).all()
    return {name: count for name, count in rows}


# --- links (the seen-URL set) --------------------------------------------------------------


def unseen_links(session: Session, urls: Sequence[str], max_attempts: int) -> list[str]:
    """The URLs never fetched, or whose fetch failed fewer than max_attempts times."""
    if not urls:
        return []
    done: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(urls)), 500):
        done.update(
            session.scalars(
                select(Link.url).where(
                    Link.url.in_(chunk),
                    or_(Link.outcome != "failed", Link.attempts >= max_attempts),
                )
            )
        )
    return [u for u in dict.fromkeys(urls) if u not in done]


def retryable_links(session: Session, source_id: int, max_attempts: int) -> list[str]:
    """A source's links whose fetch or extraction failed fewer than max_attempts times."""
    return list(
        session.scalars(
            select(Link.url)
            .where(
                Link.source_id == source_id,
                Link.outcome == "failed",
                Link.attempts < max_attempts,
            )
            .order_by(Link.first_seen_at.desc())
        )
    )


def record_link(
    session: Session,
    url: str,
    source_id: int,
    *,
    outcome: Literal["stored", "duplicate", "failed", "skipped"],
    at: datetime,
    error: str | None = None,
    article_id: int | None = None,
) -> None:
    link = session.scalars(select(Link).where(Link.url == url)).one_or_none()
    if link is None:
        link = Link(url=url, source_id=source_id, first_seen_at=at, attempts=0)
        session.add(link)
    link.attempts += 1
    link.last_attempt_at = at
    link.outcome = outcome
    link.error = error
    link.article_id = article_id
    session.flush()


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One attempt at a link, for `record_links`."""

    url: str
    source_id: int
    outcome: Literal["stored", "duplicate", "failed", "skipped"]
    at: datetime
    error: str | None
    article_id: int | None


def record_links(session: Session, records: Sequence[LinkRecord]) -> None:
    """`record_link` for many links: one query for the rows that exist, one flush."""
    existing: dict[str, Link] = {}
    urls = list(dict.fromkeys(r.url for r in records))
    for chunk in _chunks(urls, 500):
        existing.update(
            (link.url, link) for link in session.scalars(select(Link).where(Link.url.in_(chunk)))
        )
    for record in records:
        link = existing.get(record.url)
        if link is None:
            link = Link(
                url=record.url, source_id=record.source_id, first_seen_at=record.at, attempts=0
            )
            session.add(link)
            existing[record.url] = link
        link.attempts += 1
        link.last_attempt_at = record.at
        link.outcome = record.outcome
        link.error = record.error
        link.article_id = record.article_id
    session.flush()


# --- articles, matches, stories, alerts ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fingerprinted:
    id: int
    fingerprint: int
    story_id: int | None


def article_id_by_url(session: Session, canonical_url: str) -> int | None:
    return session.scalars(
        select(Article.id).where(Article.canonical_url == canonical_url)
    ).one_or_none()


@dataclass(frozen=True, slots=True)
class StoredText:
    """What a re-fetched page is compared with: the stored text of its canonical URL."""

    id: int
    text: str
    text_hash: str
    fingerprint: int
    story_id: int | None


_articles = cast(Table, Article.__table__)
# Statements run for every stored article are built once (see storage.story_rows: built
# per call, building them and their cache keys cost more than running them).
_STORED_TEXT = select(
    _articles.c.id,
    _articles.c.text,
    _articles.c.text_hash,
    _articles.c.fingerprint,
    _articles.c.story_id,
).where(_articles.c.canonical_url == bindparam("b_url"))
_BY_TEXT_HASH = (
    select(_articles.c.id, _articles.c.fingerprint, _articles.c.story_id)
    .where(_articles.c.text_hash == bindparam("b_hash"))
    .order_by(_articles.c.id)
    .limit(1)
)


def stored_text(session: Session, canonical_url: str) -> StoredText | None:
    row = session.connection().execute(_STORED_TEXT, {"b_url": canonical_url}).first()
    return StoredText(*row) if row else None


def article_by_text_hash(session: Session, text_hash: str) -> Fingerprinted | None:
    row = session.connection().execute(_BY_TEXT_HASH, {"b_hash": text_hash}).first()
    return Fingerprinted(*row) if row else None


# --- term statistics and the candidate indexes ---------------------------------------------


def term_frequencies(session: Session, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
    """(number of documents counted, document frequency of each of the terms known)."""
    wanted = sorted(set(terms) | {DOCUMENTS_TERM})
    found: dict[str, int] = {}
    connection = session.connection()
    for chunk in _chunks(wanted, 500):
        found.update((t, df) for t, df in connection.execute(_TERM_FREQUENCIES, {"b_terms": chunk}))
    return found.pop(DOCUMENTS_TERM, 0), found


_TERM_FREQUENCIES = select(TermStat.__table__.c.term, TermStat.__table__.c.df).where(
    TermStat.__table__.c.term.in_(bindparam("b_terms", expanding=True))
)


def count_document(session: Session, terms: Iterable[str]) -> None:
    """Add one document with these (distinct) terms to the document frequencies."""
    rows = [{"term": t, "df": 1} for t in sorted(set(terms) | {DOCUMENTS_TERM})]
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for chunk in _chunks(rows, 500):
        stmt = insert(TermStat).values(chunk)
        session.execute(
            stmt.on_conflict_do_update(index_elements=[TermStat.term], set_={"df": TermStat.df + 1})
        )


class TermCache:
    """Document frequencies over one transaction: each term read once, the new documents'
    counts kept here and written by `flush` in one statement.

    Reads see the database as first read plus this transaction's own counts; another run
    counting at the same time is seen by the next transaction (the statistics are weights,
    a few documents off changes nothing). `known` (df as read or written, by term) may be
    carried from one committed transaction to the next of the same run, so common terms are
    read once per run; the caller must drop it when a transaction is rolled back.
    """

    def __init__(self, session: Session, known: dict[str, int] | None = None) -> None:
        self.session = session
        self._known: dict[str, int] = {} if known is None else known  # df in the database
        self._pending: dict[str, int] = {}  # documents counted here, not yet written

    def frequencies(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(number of documents counted, document frequency of each of the terms known)."""
        wanted = set(terms) | {DOCUMENTS_TERM}
        missing = wanted.difference(self._known)
        if missing:
            documents, found = term_frequencies(self.session, missing)
            found[DOCUMENTS_TERM] = documents
            for term in missing:
                self._known[term] = found.get(term, 0)
        pending = self._pending
        counts = {t: self._known[t] + pending.get(t, 0) for t in wanted}
        documents = counts.pop(DOCUMENTS_TERM)
        return documents, {t: df for t, df in counts.items() if df}

    def count(self, terms: Iterable[str]) -> None:
        """Add one document with these (distinct) terms."""
        pending = self._pending
        for term in set(terms) | {DOCUMENTS_TERM}:
            pending[term] = pending.get(term, 0) + 1

    def flush(self) -> None:
        if not self._pending:
            return
        rows = [{"term": t, "df": n} for t, n in sorted(self._pending.items())]
        insert: Any
        if self.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(TermStat).values(term=bindparam("term"), df=bindparam("df"))
        stmt = stmt.on_conflict_do_update(
            index_elements=[TermStat.term], set_={"df": TermStat.df + stmt.excluded.df}
        )
        # Core executemany: one compiled statement, not one multi-VALUES shape per call.
        self.session.connection().execute(stmt, rows)
        for term, n in self._pending.items():
            self._known[term] = self._known.get(term, 0) + n
        self._pending.clear()


@dataclass(frozen=True, slots=True)
class EventCandidateRow:
    """An earlier original that shares key terms with a new article."""

    id: int
    story_id: int | None
    seen_at: datetime
    fingerprint: int
    features: dict[str, Any] | None  # None: not read, `known` said the caller has them
    source: tuple[str, str] = ("", "")  # text hash and title, what features come from


def event_candidates(
    session: Session,
    terms: Sequence[str],
    start: datetime,
    end: datetime,
    limit: int,
    known: Callable[[int, tuple[str, str]], bool] | None = None,
) -> list[EventCandidateRow]:
    """The originals published in [start, end] sharing the most of these key terms.

    Reads the postings of the given terms inside the window only (an index range per term),
    so its cost depends on the window's volume, not on the size of the store. `known`
    (article id, (text hash, title): what the features are computed from) tells which
    candidates' features the caller holds already: theirs are not read (decoding them cost
    more than the rest of the lookup)."""
    if not terms:
        return []
    connection = session.connection()
    rows = connection.execute(
        _EVENT_CANDIDATES,
        {"b_terms": list(terms), "b_start": start, "b_end": end, "b_limit": limit},
    ).all()
    wanted = [
        row.id for row in rows if known is None or not known(row.id, (row.text_hash, row.title))
    ]
    features: dict[int, dict[str, Any]] = {}
    if wanted:
        features = {i: f for i, f in connection.execute(_FEATURES, {"b_ids": wanted})}
    return [
        EventCandidateRow(
            row.id,
            row.story_id,
            row.event_at or start,
            row.fingerprint,
            (features[row.id] or {}) if row.id in features else None,
            (row.text_hash, row.title),
        )
        for row in rows
    ]


_terms_table = cast(Table, ArticleTerm.__table__)
_shared = func.count(_terms_table.c.id).label("shared")
_ranked = (
    select(_terms_table.c.article_id, _shared)
    .where(
        _terms_table.c.term.in_(bindparam("b_terms", expanding=True)),
        _terms_table.c.seen_at >= bindparam("b_start"),
        _terms_table.c.seen_at <= bindparam("b_end"),
    )
    .group_by(_terms_table.c.article_id)
    .order_by(_shared.desc(), _terms_table.c.article_id.desc())
    .limit(bindparam("b_limit"))
    .subquery()
)
# The ranked postings and their articles' columns in one round trip, best first.
_EVENT_CANDIDATES = (
    select(
        _articles.c.id,
        _articles.c.story_id,
        _articles.c.event_at,
        _articles.c.fingerprint,
        _articles.c.text_hash,
        _articles.c.title,
    )
    .join_from(_ranked, _articles, _articles.c.id == _ranked.c.article_id)
    .order_by(_ranked.c.shared.desc(), _ranked.c.article_id.desc())
)
_FEATURES = select(_articles.c.id, _articles.c.features).where(
    _articles.c.id.in_(bindparam("b_ids", expanding=True))
)


def index_article_terms(
    session: Session, article_id: int, terms: Iterable[str], seen_at: datetime
) -> None:
    rows = [{"term": t, "article_id": article_id, "seen_at": seen_at} for t in terms]
    if rows:
        # Core executemany: as ORM objects, each row cost a unit-of-work entry at the flush.
        session.connection().execute(_INSERT_ARTICLE_TERM, rows)


_INSERT_ARTICLE_TERM = core_insert(_terms_table)


@dataclass(frozen=True, slots=True)
class StorylineCandidateRow:
    id: int
    centroid: dict[str, float]
    watches: list[str]


def storyline_candidates(
    session: Session, terms: Sequence[str], per_term: int
) -> list[StorylineCandidateRow]:
    """For each key term, the storylines that used it most recently: a bounded set, found by
    one index range per term however old or large the store is."""
    # One statement: a UNION ALL of the per-term index ranges (one round trip, not one per
    # term; each part still reads at most `per_term` postings).
    unique = list(dict.fromkeys(terms))
    if not unique:
        return []
    params: dict[str, Any] = {f"t{i}": term for i, term in enumerate(unique)}
    params["per_term"] = per_term
    ids = dict.fromkeys(session.scalars(_storyline_ranges(len(unique)), params))
    if not ids:
        return []
    rows = session.connection().execute(_STORYLINE_ROWS, {"b_ids": list(ids)}).all()
    return [
        StorylineCandidateRow(
            row.id, {str(k): float(v) for k, v in (row.centroid or {}).items()}, list(row.watches)
        )
        for row in rows
    ]


_storylines = cast(Table, Storyline.__table__)
_STORYLINE_ROWS = select(_storylines.c.id, _storylines.c.centroid, _storylines.c.watches).where(
    _storylines.c.id.in_(bindparam("b_ids", expanding=True))
)


@functools.lru_cache(maxsize=32)
def _storyline_ranges(n: int) -> TextualSelect:
    """The UNION ALL of `n` per-term index ranges (terms :t0..., at most :per_term each), as
    text: built as SQLAlchemy subqueries, the statement cost more CPU to build and to key for
    the compiled cache than to run."""
    part = (
        "SELECT p{i}.storyline_id FROM (SELECT storyline_terms.storyline_id AS storyline_id "
        "FROM storyline_terms WHERE storyline_terms.term = :t{i} "
        "ORDER BY storyline_terms.seen_at DESC LIMIT :per_term) AS p{i}"
    )
    return text(" UNION ALL ".join(part.format(i=i) for i in range(n))).columns(
        StorylineTerm.storyline_id
    )


def index_storyline_terms(
    session: Session,
    storyline_id: int,
    terms: Iterable[str],
    seen_at: datetime,
    *,
    fresh: bool = False,
) -> None:
    """Record that the storyline used these terms at seen_at (the latest use is kept).
    `fresh`: the storyline was created in this transaction and has no terms yet (a plain
    insert). Otherwise one upsert per term, in one executemany: no read of the existing rows,
    no ORM objects (their UPDATEs at the flush cost more than the upsert)."""
    rows = [
        {"term": t, "storyline_id": storyline_id, "seen_at": seen_at} for t in dict.fromkeys(terms)
    ]
    if not rows:
        return
    if fresh:
        session.execute(core_insert(cast(Table, StorylineTerm.__table__)), rows)
    else:
        session.execute(_storyline_term_upsert(session.get_bind().dialect.name), rows)


@functools.lru_cache(maxsize=4)
def _storyline_term_upsert(dialect: str) -> Any:
    insert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = cast(Table, StorylineTerm.__table__)
    stmt = insert(table)
    later = stmt.excluded.seen_at > table.c.seen_at
    return stmt.on_conflict_do_update(
        index_elements=[table.c.term, table.c.storyline_id],
        set_={"seen_at": case((later, stmt.excluded.seen_at), else_=table.c.seen_at)},
    )


# --- storing an article in its story -------------------------------------------------------


def insert_article(
    session: Session,
    article: ArticleData,
    *,
    text_hash: str,
    fingerprint: int,
    matches: Sequence[Match],
    duplicate_of: Fingerprinted | None,
    features: dict[str, Any],
    event_at: datetime,
    story_id: int | None,
    now: datetime,
) -> int:
    """The article's row, in its story already, and its matches, as Core inserts; its id.
    (As an ORM object, its unit-of-work flush and a later UPDATE for the story cost more
    than the inserts themselves.)"""
    row = {
        "canonical_url": article.canonical_url,
        "url": article.url,
        "source": article.source,
        "title": article.title,
        "author": article.author,
        "published_at": article.published_at,
        "fetched_at": article.fetched_at,
        "stored_at": now,
        "sitename": article.sitename,
        "language": article.language,
        "text": article.text,
        "text_hash": text_hash,
        "fingerprint": fingerprint,
        "duplicate_of_id": duplicate_of.id if duplicate_of else None,
        "event_at": event_at,
        "features": features,
        "revisions": 0,
        "story_id": story_id,
        "updated_at": None,
    }
    connection = session.connection()
    key = connection.execute(_INSERT_ARTICLE, row).inserted_primary_key
    if key is None:  # pragma: no cover - every dialect newswatch supports returns it
        raise RuntimeError("the database returned no id for the inserted article")
    article_id = int(key[0])
    if matches:
        connection.execute(_INSERT_MATCH, [_match_values(article_id, match) for match in matches])
    return article_id


_INSERT_ARTICLE = core_insert(_articles)
_INSERT_MATCH = core_insert(cast(Table, MatchRow.__table__))


def _match_values(article_id: int, match: Match) -> dict[str, Any]:
    return {"article_id": article_id} | _match_columns(match)


def _match_columns(match: Match) -> dict[str, Any]:
    return {
        "watch": match.watch,
        "score": match.score,
        "threshold": match.threshold,
        "terms": list(match.terms),
        "evidence": [{"sentence": e.sentence, "terms": list(e.terms)} for e in match.evidence],
        "reason": match.reason,
    }


def _match_row(match: Match) -> MatchRow:
    return MatchRow(**_match_columns(match))


def update_article_text(
    session: Session,
    article_id: int,
    article: ArticleData,
    *,
    text_hash: str,
    fingerprint: int,
    features: dict[str, Any],
    matches: Sequence[Match],
    now: datetime,
) -> None:
    """Store a materially changed text of an article (a correction, new facts)."""
    row = session.get_one(Article, article_id)
    row.text, row.title = article.text, article.title or row.title
    row.text_hash, row.fingerprint, row.features = text_hash, fingerprint, features
    row.revisions += 1
    row.updated_at = now
    row.matches.clear()
    session.flush()
    for match in matches:
        row.matches.append(_match_row(match))
    session.flush()


@dataclass(frozen=True, slots=True)
class StoredArticle:
    article_id: int
    story_id: int | None
    alert_id: int | None


def store_article(
    session: Session,
    article: ArticleData,
    *,
    text_hash: str,
    fingerprint: int,
    matches: Sequence[Match],
    duplicate_of: Fingerprinted | None,
    alert_kind: Literal["new_story", "development"] | None,
    channels: Iterable[str],
    now: datetime,
) -> StoredArticle:
    """Store an article without story assignment features: a copy joins its original's
    story; an original that is to alert opens a story of its own. (The pipeline assigns
    stories with flows.pipeline; this is the plain path for tools and tests.)"""
    seen_at = article.published_at or article.fetched_at
    watches = [m.watch for m in matches]
    story_id = duplicate_of.story_id if duplicate_of else None
    if story_id is None and alert_kind is not None:
        story_id = open_story(session, article.title, seen_at, None)
    article_id = insert_article(
        session,
        article,
        text_hash=text_hash,
        fingerprint=fingerprint,
        matches=matches,
        duplicate_of=duplicate_of,
        features={},
        event_at=seen_at,
        story_id=story_id,
        now=now,
    )
    if story_id is not None:
        add_to_story(session, story_id, watches=watches, seen_at=seen_at)
    alert_id: int | None = None
    if alert_kind is not None and story_id is not None:
        alert_id = queue_alert(
            session,
            story_id=story_id,
            article_id=article_id,
            kind=alert_kind,
            watches=watches,
            dedup_key=f"{alert_kind}:{story_id}",
            channels=channels,
            now=now,
        )
    return StoredArticle(article_id=article_id, story_id=story_id, alert_id=alert_id)


def list_articles(
    session: Session, *, watch: str | None = None, limit: int = 20
) -> Sequence[Article]:
    query = select(Article).options(selectinload(Article.matches))
    if watch:
        query = query.where(Article.matches.any(MatchRow.watch == watch))
    return session.scalars(
        query.order_by(Article.stored_at.desc(), Article.id.desc()).limit(limit)
    ).all()


def list_alerts(
    session: Session, *, watch: str | None = None, status: str | None = None, limit: int = 20
) -> Sequence[Alert]:
    query = select(Alert).options(
        selectinload(Alert.deliveries), selectinload(Alert.article).selectinload(Article.matches)
    )
    if watch:
        query = query.where(Alert.article.has(Article.matches.any(MatchRow.watch == watch)))
    if status:
        query = query.where(Alert.deliveries.any(Delivery.status == status))
    return session.scalars(
        query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    ).all()


def alerted_article_ids(session: Session, article_ids: Sequence[int]) -> set[int]:
    if not article_ids:
        return set()
    return set(session.scalars(select(Alert.article_id).where(Alert.article_id.in_(article_ids))))


def story_outlets(session: Session, story_id: int) -> list[str]:
    rows = session.scalars(
        select(func.coalesce(Article.sitename, Article.source))
        .where(Article.story_id == story_id)
        .order_by(Article.id)
    ).all()
    return list(dict.fromkeys(rows))


# --- stories and storylines for alerts and listings ---------------------------------------


@dataclass(frozen=True, slots=True)
class StorySummary:
    """A story as alerts and listings show it: headline, its first article's link, times."""

    id: int
    headline: str
    url: str
    first_seen_at: datetime
    last_seen_at: datetime
    article_count: int
    watches: list[str]
    storyline_id: int | None


def _first_urls(session: Session, story_ids: Sequence[int]) -> dict[int, str]:
    """The canonical URL of each story's first original article."""
    if not story_ids:
        return {}
    first = (
        select(Article.story_id, func.min(Article.id).label("first_id"))
        .where(Article.story_id.in_(list(story_ids)), Article.duplicate_of_id.is_(None))
        .group_by(Article.story_id)
        .subquery()
    )
    rows = session.execute(
        select(first.c.story_id, Article.canonical_url).join(
            Article, Article.id == first.c.first_id
        )
    ).all()
    return {story_id: url for story_id, url in rows}


def _summaries(session: Session, stories: Sequence[Story]) -> list[StorySummary]:
    urls = _first_urls(session, [s.id for s in stories])
    return [
        StorySummary(
            s.id,
            s.headline,
            urls.get(s.id, ""),
            s.first_seen_at,
            s.last_seen_at,
            s.article_count,
            list(s.watches),
            s.storyline_id,
        )
        for s in stories
    ]


def story_summary(session: Session, story_id: int) -> StorySummary | None:
    story = session.get(Story, story_id)
    return _summaries(session, [story])[0] if story else None


def previous_stories(session: Session, story_id: int, limit: int = 10) -> list[StorySummary]:
    """The stories of a story's storyline first seen before it, most recent first."""
    story = session.get_one(Story, story_id)
    if story.storyline_id is None:
        return []
    ids = earlier_story_ids(session, story.storyline_id, story_id, story.first_seen_at)[:limit]
    by_id = {s.id: s for s in session.scalars(select(Story).where(Story.id.in_(ids)))}
    return _summaries(session, [by_id[i] for i in ids if i in by_id])


def list_stories(
    session: Session, *, watch: str | None = None, limit: int = 20
) -> list[tuple[StorySummary, list[str]]]:
    """Stories seen most recently first, with the outlets that covered each."""
    query = select(Story)
    if watch:
        query = query.where(Story.articles.any(Article.matches.any(MatchRow.watch == watch)))
    stories = session.scalars(
        query.order_by(Story.last_seen_at.desc(), Story.id.desc()).limit(limit)
    ).all()
    return [
        (summary, story_outlets(session, summary.id)) for summary in _summaries(session, stories)
    ]


@dataclass(frozen=True, slots=True)
class StoryDetail:
    story: StorySummary
    outlets: list[str]
    alerted_at: datetime | None
    articles: list[Article]
    storyline: list[StorySummary]  # every story of its storyline, oldest first


def story_detail(session: Session, story_id: int) -> StoryDetail | None:
    story = session.get(Story, story_id)
    if story is None:
        return None
    [summary] = _summaries(session, [story])
    articles = list(
        session.scalars(
            select(Article)
            .where(Article.story_id == story_id)
            .options(selectinload(Article.matches))
            .order_by(Article.event_at, Article.id)
        )
    )
    line: list[StorySummary] = []
    if story.storyline_id is not None:
        members = session.scalars(
            select(Story)
            .where(Story.storyline_id == story.storyline_id)
            .order_by(Story.first_seen_at, Story.id)
        ).all()
        line = _summaries(session, members)
    return StoryDetail(summary, story_outlets(session, story_id), story.alerted_at, articles, line)


# --- the daily digest ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestRow:
    """One matched article of the digest period: which watch, which story, alerted or not."""

    watch: str
    score: float
    article_id: int
    story_id: int | None
    story_headline: str | None
    title: str
    url: str
    outlet: str
    published_at: datetime | None
    stored_at: datetime
    is_copy: bool
    alerted: bool


def digest_rows(session: Session, *, since: datetime, until: datetime) -> list[DigestRow]:
    """Every (watch, article) match stored in ``[since, until)``, oldest first."""
    alerted = select(Alert.article_id).scalar_subquery()
    rows = session.execute(
        select(
            MatchRow.watch,
            MatchRow.score,
            Article.id,
            Article.story_id,
            Story.headline,
            Article.title,
            Article.canonical_url,
            func.coalesce(Article.sitename, Article.source),
            Article.published_at,
            Article.stored_at,
            Article.duplicate_of_id.is_not(None),
            Article.id.in_(alerted),
        )
        .join(Article, MatchRow.article_id == Article.id)
        .outerjoin(Story, Story.id == Article.story_id)
        .where(Article.stored_at >= since, Article.stored_at < until)
        .order_by(Article.stored_at, Article.id)
    ).all()
    return [DigestRow(*row) for row in rows]


# --- the delivery outbox -------------------------------------------------------------------


def claim_due_deliveries(
    session: Session,
    *,
    token: str,
    now: datetime,
    lease: timedelta,
    limit: int = 200,
    due_at: datetime | None = None,
) -> list[int]:
    """Claim pending deliveries that are due, and ones whose claimant died mid-send.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks rows no other transaction holds,
    so overlapping runs split the work without waiting on each other. SQLite (one writer at a
    time): one ``UPDATE ... WHERE id IN (due subquery) AND due``, which takes the write lock
    before it reads, so the guard sees every earlier claim. Either way a delivery is claimed by
    one run only; the claimed rows carry ``token`` and ``claimed_at = now``. ``due_at``
    (default ``now``) bounds which pending rows are due: a run passes its start time, so a
    delivery it retried and rescheduled is not claimed again in the same run.
    """
    due = or_(
        (Delivery.status == "pending") & (Delivery.next_attempt_at <= (due_at or now)),
        (Delivery.status == "sending") & (Delivery.claimed_at < now - lease),
    )
    claim = update(Delivery).values(status="sending", claim_token=token, claimed_at=now)
    if session.get_bind().dialect.name == "postgresql":
        ids = session.scalars(
            select(Delivery.id)
            .where(due)
            .order_by(Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return []
        claim = claim.where(Delivery.id.in_(ids))
    else:
        pick = select(Delivery.id).where(due).order_by(Delivery.id).limit(limit)
        claim = claim.where(Delivery.id.in_(pick.scalar_subquery()), due)
    claimed = session.scalars(
        claim.returning(Delivery.id), execution_options={"synchronize_session": False}
    ).all()
    return sorted(claimed)


def renew_claim(session: Session, delivery_id: int, *, token: str, now: datetime) -> bool:
    """Restart the lease of a delivery this run holds; False if another run has taken it."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.claim_token == token,
            Delivery.status == "sending",
        )
        .values(claimed_at=now),
        execution_options={"synchronize_session": False},
    )
    return bool(getattr(result, "rowcount", 0))


def load_delivery(session: Session, delivery_id: int) -> Delivery:
    return session.scalars(
        select(Delivery)
        .where(Delivery.id == delivery_id)
        .options(
            selectinload(Delivery.alert).selectinload(Alert.article).selectinload(Article.matches)
        )
    ).one()


def finish_delivery(
    session: Session,
    delivery_id: int,
    *,
    status: Literal["sent", "pending", "failed"],
    now: datetime,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    token: str | None = None,
) -> bool:
    """Record an attempt's outcome; False (and nothing written) when the outcome is stale.

    With ``token``, a failure is recorded only while this run still holds the claim (a run
    whose lease ran out must not overwrite the outcome of the run that took over). "sent" is
    always recorded unless the delivery is sent already: the channel has the alert.
    """
    delivery = session.get_one(Delivery, delivery_id, with_for_update=True)
    if delivery.status == "sent":
        return False
    if token is not None and status != "sent" and delivery.claim_token != token:
        return False
    delivery.attempts += 1
    delivery.status = status
    delivery.last_error = error
    delivery.claim_token = None
    delivery.claimed_at = None
    if status == "sent":
        delivery.sent_at = now
    if next_attempt_at is not None:
        delivery.next_attempt_at = next_attempt_at
    return True


def retry_failed_deliveries(
    session: Session, *, now: datetime, ids: Sequence[int] | None = None
) -> list[int]:
    """Put failed deliveries back to pending, due now, with a fresh attempt count.

    ``ids`` None means every failed delivery; ids that are not failed are left alone. The
    last error is kept until the next attempt replaces it. Returns the ids requeued.
    """
    query = update(Delivery).where(Delivery.status == "failed")
    if ids is not None:
        if not ids:
            return []
        query = query.where(Delivery.id.in_(list(ids)))
    requeued = session.scalars(
        query.values(status="pending", attempts=0, next_attempt_at=now).returning(Delivery.id),
        execution_options={"synchronize_session": False},
    ).all()
    return sorted(requeued)


def delivery_status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
    return {status: count for status, count in rows}


_T = TypeVar("_T")


def _chunks(items: list[_T], size: int) -> Iterable[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def alerts_created_since(session: Session, since: datetime, limit: int = 200) -> Sequence[Alert]:
    """Alerts queued at or after `since`, oldest first, with their article and its matches."""
    query = (
        select(Alert)
        .where(Alert.created_at >= since)
        .options(selectinload(Alert.article).selectinload(Article.matches))
        .order_by(Alert.created_at, Alert.id)
        .limit(limit)
    )
    return session.scalars(query).all()
