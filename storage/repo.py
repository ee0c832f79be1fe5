"""Repository functions: every SQL statement newswatch runs lives here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from newswatch.models import Article as ArticleData
from newswatch.models import Match
from storage.models import (
    Alert,
    Article,
    Delivery,
    Link,
    MatchRow,
    Source,
    Story,
)

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
    status: Literal["ok", "not_modified", "failed"],
    polled_at: datetime,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """Remember a poll's outcome; validators are kept only from a successful poll."""
    source = get_source(session, name)
    if source is None:
        return
    source.last_polled_at = polled_at
    source.last_status = status
    source.last_error = error
    if status == "failed":
        source.consecutive_failures += 1
        return
    source.consecutive_failures = 0
    if status == "ok":
        source.etag, source.last_modified = etag, last_modified


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


def article_by_text_hash(session: Session, text_hash: str) -> Fingerprinted | None:
    row = session.execute(
        select(Article.id, Article.fingerprint, Article.story_id)
        .where(Article.text_hash == text_hash)
        .order_by(Article.id)
        .limit(1)
    ).first()
    return Fingerprinted(*row) if row else None


def recent_fingerprints(session: Session, since: datetime) -> list[Fingerprinted]:
    """Fingerprints of originals stored since a time, for near-duplicate search."""
    rows = session.execute(
        select(Article.id, Article.fingerprint, Article.story_id).where(
            Article.stored_at >= since, Article.duplicate_of_id.is_(None)
        )
    ).all()
    return [Fingerprinted(*row) for row in rows]


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
    alert_kind: Literal["new_story"] | None,
    channels: Iterable[str],
    now: datetime,
) -> StoredArticle:
    """Store an article with its matches; open its story and queue its alert when asked.

    The alert and one delivery per channel are written in the caller's transaction, so an
    alert is never stored without its deliveries, nor sent without being stored.
    """
    row = Article(
        canonical_url=article.canonical_url,
        url=article.url,
        source=article.source,
        title=article.title,
        author=article.author,
        published_at=article.published_at,
        fetched_at=article.fetched_at,
        stored_at=now,
        sitename=article.sitename,
        language=article.language,
        text=article.text,
        text_hash=text_hash,
        fingerprint=fingerprint,
        duplicate_of_id=duplicate_of.id if duplicate_of else None,
        story_id=duplicate_of.story_id if duplicate_of else None,
    )
    session.add(row)
    for match in matches:
        row.matches.append(
            MatchRow(
                watch=match.watch,
                score=match.score,
                threshold=match.threshold,
                terms=list(match.terms),
                evidence=[{"sentence": e.sentence, "terms": list(e.terms)} for e in match.evidence],
                reason=match.reason,
            )
        )
    session.flush()
    watches = [m.watch for m in matches]

    if row.story_id is not None:
        story = session.get_one(Story, row.story_id)
        story.article_count += 1
        story.last_seen_at = now
    elif alert_kind is not None:
        story = Story(
            headline=article.title,
            watches=watches,
            first_seen_at=now,
            last_seen_at=now,
            article_count=1,
        )
        session.add(story)
        session.flush()
        row.story_id = story.id

    alert_id: int | None = None
    if alert_kind is not None and row.story_id is not None:
        alert = Alert(
            story_id=row.story_id,
            article_id=row.id,
            kind=alert_kind,
            watches=watches,
            dedup_key=f"{alert_kind}:{row.story_id}",
            created_at=now,
        )
        session.add(alert)
        session.flush()
        for channel in channels:
            session.add(Delivery(alert_id=alert.id, channel=channel, next_attempt_at=now))
        alert_id = alert.id
    session.flush()
    return StoredArticle(article_id=row.id, story_id=row.story_id, alert_id=alert_id)


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


# --- the delivery outbox -------------------------------------------------------------------


def claim_due_deliveries(
    session: Session, *, token: str, now: datetime, lease: timedelta, limit: int = 200
) -> list[int]:
    """Claim pending deliveries that are due, and ones whose claimant died mid-send.

    The claim is one UPDATE guarded by the row's state, so two overlapping runs never
    claim the same delivery (on PostgreSQL and SQLite alike).
    """
    due = or_(
        (Delivery.status == "pending") & (Delivery.next_attempt_at <= now),
        (Delivery.status == "sending") & (Delivery.claimed_at < now - lease),
    )
    ids = session.scalars(select(Delivery.id).where(due).order_by(Delivery.id).limit(limit)).all()
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), due)
        .values(status="sending", claim_token=token, claimed_at=now),
        execution_options={"synchronize_session": False},
    )
    return list(
        session.scalars(
            select(Delivery.id).where(Delivery.claim_token == token, Delivery.status == "sending")
        )
    )


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
) -> None:
    delivery = session.get_one(Delivery, delivery_id)
    delivery.attempts += 1
    delivery.status = status
    delivery.last_error = error
    delivery.claim_token = None
    delivery.claimed_at = None
    if status == "sent":
        delivery.sent_at = now
    if next_attempt_at is not None:
        delivery.next_attempt_at = next_attempt_at


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
