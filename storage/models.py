"""SQLAlchemy 2.0 models: what newswatch keeps between runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(40))  # ok, not_modified, failed
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Why the last poll failed, for code and filters: a FetchError kind ("timeout",
    # "http_status", "robots", ...), "parse" or "internal"; None after a success.
    last_error_kind: Mapped[str | None] = mapped_column(String(40))
    # A failing source is not polled before this (back-off across runs); None: due.
    next_poll_at: Mapped[datetime | None]


class Link(Base):
    """Every article URL seen on a source: the seen-URL set that keeps reruns cheap."""

    __tablename__ = "links"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)  # canonical form of the discovered link
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(20), default="pending")  # stored, failed, skipped
    error: Mapped[str | None] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))


class Storyline(Base):
    """Related stories over weeks or years (same actors, same watch): a new story that joins
    one is a development. Every story has one, alone in it until another joins."""

    __tablename__ = "storylines"

    id: Mapped[int] = mapped_column(primary_key=True)
    headline: Mapped[str] = mapped_column(Text)  # its first story's headline
    watches: Mapped[list[Any]] = mapped_column(default=list)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    story_count: Mapped[int] = mapped_column(Integer, default=0)
    # Sum of its articles' title+lead vectors, trimmed to the heaviest terms: what a new
    # story's lead is compared with.
    centroid: Mapped[dict[str, Any]] = mapped_column(default=dict)

    stories: Mapped[list[Story]] = relationship(back_populates="storyline")


class Story(Base):
    """One real-world event, reported by one or more outlets."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    headline: Mapped[str] = mapped_column(Text)
    watches: Mapped[list[Any]] = mapped_column(default=list)
    # Times of the event as its articles report it: published (else fetched) times.
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    storyline_id: Mapped[int | None] = mapped_column(ForeignKey("storylines.id"), index=True)
    alerted_at: Mapped[datetime | None]

    articles: Mapped[list[Article]] = relationship(back_populates="story")
    storyline: Mapped[Storyline | None] = relationship(back_populates="stories")


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    url: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]
    stored_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sitename: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[int] = mapped_column(BigInteger, index=True)  # SimHash as signed 64-bit
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    # When the article reports its event: published, else fetched. Story windows use it.
    event_at: Mapped[datetime | None]
    # Term counts story assignment compares (classifiers.events.EventFeatures.to_json()).
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revisions: Mapped[int] = mapped_column(Integer, default=0)  # material text changes stored
    updated_at: Mapped[datetime | None]

    story: Mapped[Story | None] = relationship(back_populates="articles")
    matches: Mapped[list[MatchRow]] = relationship(
        back_populates="article", cascade="all, delete-orphan"
    )


class MatchRow(Base):
    """A watch that fired on an article, with the evidence an analyst reads."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("article_id", "watch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    watch: Mapped[str] = mapped_column(String(100), index=True)
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    terms: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # [{"sentence": .., "terms": [..]}]
    reason: Mapped[str] = mapped_column(Text, default="")

    article: Mapped[Article] = relationship(back_populates="matches")


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    kind: Mapped[str] = mapped_column(String(20))  # new_story, development
    watches: Mapped[list[Any]] = mapped_column(default=list)
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    article: Mapped[Article] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="alert")


class Delivery(Base):
    """The outbox: one row per alert and channel, written with the alert, then sent."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    channel: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alert: Mapped[Alert] = relationship(back_populates="deliveries")


class ArticleTerm(Base):
    """Inverted index of each original article's key terms, by event time: the earlier
    articles an article may report the same event as are found through it, in a bounded time
    window, whatever the number of stored articles."""

    __tablename__ = "article_terms"
    __table_args__ = (Index("ix_article_terms_term_seen", "term", "seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(100))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    seen_at: Mapped[datetime]


class StorylineTerm(Base):
    """The key terms of each storyline's articles, with when a term was last used in it:
    candidate storylines are the most recent few per term (a bounded lookup)."""

    __tablename__ = "storyline_terms"
    __table_args__ = (
        UniqueConstraint("term", "storyline_id"),
        Index("ix_storyline_terms_term_seen", "term", "seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(100))
    storyline_id: Mapped[int] = mapped_column(ForeignKey("storylines.id"), index=True)
    seen_at: Mapped[datetime]


class TermStat(Base):
    """Document frequency of each term over the stored originals (for inverse document
    frequency weights); the row DOCUMENTS_TERM counts the documents themselves."""

    __tablename__ = "term_stats"

    term: Mapped[str] = mapped_column(String(100), primary_key=True)
    df: Mapped[int] = mapped_column(BigInteger, default=0)


DOCUMENTS_TERM = "#documents"  # never a term: terms hold no "#"
