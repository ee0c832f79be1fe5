"""Storage against a real SQLite file, and PostgreSQL where NEWSWATCH_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from newswatch.models import Article, Evidence, Match
from storage import repo
from storage.db import Database, DatabaseError
from storage.models import Alert, Delivery, MatchRow
from storage.models import Article as ArticleRow

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _article(url: str = "https://news.example/a", text: str = "Body text.") -> Article:
    return Article(
        url=url + "?utm_source=feed",
        canonical_url=url,
        source="example",
        title="Engineer charged with stealing trade secrets",
        text=text,
        fetched_at=NOW,
        published_at=NOW - timedelta(hours=2),
        sitename="Example News",
        language="en",
    )


MATCH = Match(
    watch="ip_theft",
    score=9.5,
    threshold=4.0,
    matched=True,
    terms=("trade secrets", "charged"),
    evidence=(Evidence("He was charged with stealing trade secrets.", ("trade secrets",)),),
    reason="score 9.5 >= 4.0",
)


def _store(db: Database, article: Article, *, alert: bool = True) -> repo.StoredArticle:
    with db.session() as session:
        return repo.store_article(
            session,
            article,
            text_hash="h-" + article.canonical_url,
            fingerprint=-42,
            matches=[MATCH],
            duplicate_of=None,
            alert_kind="new_story" if alert else None,
            channels=["console", "slack"],
            now=NOW,
        )


def test_article_roundtrip_keeps_matches_evidence_and_utc(db: Database) -> None:
    stored = _store(db, _article())
    with db.session() as session:
        row = session.get_one(ArticleRow, stored.article_id)
        assert row.published_at == NOW - timedelta(hours=2)
        assert row.published_at.tzinfo is not None
        assert row.fingerprint == -42
        [match] = row.matches
        assert match.watch == "ip_theft"
        assert match.evidence == [
            {"sentence": "He was charged with stealing trade secrets.", "terms": ["trade secrets"]}
        ]
        assert row.story is not None and row.story.article_count == 1


def test_alert_is_written_with_one_delivery_per_channel(db: Database) -> None:
    stored = _store(db, _article())
    assert stored.alert_id is not None
    with db.session() as session:
        deliveries = session.scalars(select(Delivery).order_by(Delivery.channel)).all()
        assert [(d.channel, d.status) for d in deliveries] == [
            ("console", "pending"),
            ("slack", "pending"),
        ]


def test_canonical_url_is_unique(db: Database) -> None:
    _store(db, _article())
    with pytest.raises(IntegrityError):
        _store(db, _article())
    with db.session() as session:
        # The failed transaction left nothing behind: no second alert, no orphan delivery.
        assert session.scalar(select(func.count()).select_from(ArticleRow)) == 1
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
        assert session.scalar(select(func.count()).select_from(Delivery)) == 2
        assert session.scalar(select(func.count()).select_from(MatchRow)) == 1


def test_copy_joins_the_original_story_without_an_alert(db: Database) -> None:
    original = _store(db, _article())
    with db.session() as session:
        found = repo.article_by_text_hash(session, "h-https://news.example/a")
        assert found is not None and found.story_id == original.story_id
        copy = repo.store_article(
            session,
            _article("https://other.example/copy"),
            text_hash="h-copy",
            fingerprint=-41,
            matches=[MATCH],
            duplicate_of=found,
            alert_kind=None,
            channels=["console"],
            now=NOW,
        )
    assert copy.story_id == original.story_id and copy.alert_id is None
    with db.session() as session:
        assert repo.story_outlets(session, original.story_id or 0) == ["Example News"]
        summary = repo.story_summary(session, original.story_id or 0)
        assert summary is not None and summary.article_count == 2
        assert summary.url == "https://news.example/a"  # the original, not the copy


def test_sources_keep_validators_and_count_failures(db: Database) -> None:
    with db.session() as session:
        repo.sync_source(session, "feed", "rss", "https://news.example/feed", True)
        repo.record_poll(session, "feed", status="ok", polled_at=NOW, etag='"v1"')
        repo.record_poll(session, "feed", status="failed", polled_at=NOW, error="HTTP 503")
        repo.record_poll(session, "feed", status="failed", polled_at=NOW, error="HTTP 503")
    with db.session() as session:
        source = repo.get_source(session, "feed")
        assert source is not None
        assert (source.etag, source.consecutive_failures, source.last_error) == (
            '"v1"',
            2,
            "HTTP 503",
        )
        repo.record_poll(session, "feed", status="not_modified", polled_at=NOW)
        assert source.consecutive_failures == 0 and source.etag == '"v1"'
        # A new URL in the config makes the old validators meaningless.
        repo.sync_source(session, "feed", "rss", "https://news.example/other-feed", True)
        assert source.etag is None


def test_unseen_links_retries_failures_up_to_a_limit(db: Database) -> None:
    urls = [f"https://news.example/{i}" for i in range(3)]
    with db.session() as session:
        source_id = repo.sync_source(session, "feed", "rss", "https://news.example/f", True).id
        repo.record_link(session, urls[0], source_id, outcome="stored", at=NOW)
        repo.record_link(session, urls[1], source_id, outcome="failed", at=NOW, error="HTTP 500")
    with db.session() as session:
        assert repo.unseen_links(session, [*urls, urls[2]], max_attempts=2) == urls[1:]
        repo.record_link(session, urls[1], source_id, outcome="failed", at=NOW, error="HTTP 500")
    with db.session() as session:
        assert repo.unseen_links(session, urls, max_attempts=2) == urls[2:]


def test_two_claimers_never_share_a_delivery(db: Database) -> None:
    _store(db, _article("https://news.example/1"))
    _store(db, _article("https://news.example/2"))
    lease = timedelta(minutes=10)
    with db.session() as session:
        first = repo.claim_due_deliveries(session, token="a", now=NOW, lease=lease)
    with db.session() as session:
        second = repo.claim_due_deliveries(session, token="b", now=NOW, lease=lease)
    assert len(first) == 4 and second == []
    # A claimant that died mid-send is taken over once its lease has run out.
    with db.session() as session:
        later = repo.claim_due_deliveries(session, token="c", now=NOW + 2 * lease, lease=lease)
    assert sorted(later) == sorted(first)


def test_finished_deliveries_are_not_claimed_again(db: Database) -> None:
    _store(db, _article())
    lease = timedelta(minutes=10)
    with db.session() as session:
        sent, retry = repo.claim_due_deliveries(session, token="a", now=NOW, lease=lease)
        repo.finish_delivery(session, sent, status="sent", now=NOW)
        repo.finish_delivery(
            session,
            retry,
            status="pending",
            now=NOW,
            error="HTTP 503",
            next_attempt_at=NOW + timedelta(minutes=5),
        )
    with db.session() as session:
        assert repo.claim_due_deliveries(session, token="b", now=NOW, lease=lease) == []
        due = repo.claim_due_deliveries(
            session, token="c", now=NOW + timedelta(minutes=6), lease=lease
        )
        assert due == [retry]
        delivery = repo.load_delivery(session, retry)
        assert delivery.attempts == 1 and delivery.last_error == "HTTP 503"
        assert delivery.alert.article.title.startswith("Engineer")


def test_listings_filter_by_watch_and_status(db: Database) -> None:
    _store(db, _article("https://news.example/1"))
    _store(db, _article("https://news.example/2"), alert=False)
    with db.session() as session:
        assert len(repo.list_articles(session, watch="ip_theft")) == 2
        assert repo.list_articles(session, watch="trade_deal") == []
        assert len(repo.list_alerts(session)) == 1
        assert repo.list_alerts(session, status="failed") == []


def test_unreachable_database_is_a_clear_error(tmp_path: object) -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(DatabaseError, match="cannot open database"):
        db.create_all()
    with pytest.raises(DatabaseError, match="invalid database URL"):
        Database("not a url")
