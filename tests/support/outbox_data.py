"""Stored alerts for outbox tests, and counting what a receiver got per alert."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch.models import Article, Evidence, Match
from storage import repo, story_rows
from storage.db import Database

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

MATCH = Match(
    watch="ip_theft",
    score=9.5,
    threshold=4.0,
    matched=True,
    terms=("trade secrets",),
    evidence=(Evidence("She was charged with stealing trade secrets.", ("trade secrets",)),),
    reason="score 9.5 >= 4.0",
)


def seed_alerts(
    db: Database,
    count: int,
    channels: Sequence[str],
    *,
    now: datetime = NOW,
    titles: Iterable[str] = (),
) -> list[int]:
    """``count`` stored articles, each with an alert and one pending delivery per channel."""
    names = list(titles)
    alert_ids = []
    with db.session() as session:
        for i in range(count):
            title = names[i] if i < len(names) else f"Engineer {i} charged with stealing secrets"
            article = Article(
                url=f"https://news.example/story-{i}",
                canonical_url=f"https://news.example/story-{i}",
                source="example",
                title=title,
                text=f"Prosecutors said engineer {i} copied trade secrets.",
                fetched_at=now,
                published_at=now - timedelta(hours=1),
                sitename="Example News",
                language="en",
            )
            stored = repo.store_article(
                session,
                article,
                text_hash=f"hash-{i}",
                fingerprint=i,
                matches=[MATCH],
                duplicate_of=None,
                alert_kind="new_story",
                channels=channels,
                now=now,
            )
            assert stored.alert_id is not None
            alert_ids.append(stored.alert_id)
    return alert_ids


_ALERT_ID = re.compile(r"newswatch alert #(\d+)")


def slack_alert_id(payload: dict[str, Any]) -> int:
    """The alert id a Slack payload carries (its last context block)."""
    for block in reversed(payload["blocks"]):
        for element in block.get("elements", []):
            found = _ALERT_ID.search(element.get("text", ""))
            if found:
                return int(found.group(1))
    raise AssertionError("no alert id in the payload")


def receipt_counts(payloads: Iterable[dict[str, Any]]) -> Counter[int]:
    """How many times each alert reached the receiver."""
    return Counter(slack_alert_id(p) for p in payloads)


def add_article(
    db: Database,
    *,
    slug: str,
    title: str,
    outlet: str,
    story_id: int | None = None,
    copy_of: int | None = None,
    watch: str = "ip_theft",
    now: datetime = NOW,
) -> tuple[int, int]:
    """One matched article: the first of a new story (with an alert) when ``story_id`` is
    None, else a later report (``copy_of`` set: a copy) joining that story without one.
    Returns (article id, story id)."""
    article = Article(
        url=f"https://{slug}.example/a",
        canonical_url=f"https://{slug}.example/a",
        source=outlet.lower().replace(" ", "-"),
        title=title,
        text=f"{title}. Prosecutors said trade secrets were copied.",
        fetched_at=now,
        published_at=now - timedelta(hours=1),
        sitename=outlet,
        language="en",
    )
    match = Match(watch, 7.0, 4.0, True, ("trade secrets",), (), "")
    with db.session() as session:
        duplicate = repo.Fingerprinted(copy_of, 0, story_id) if copy_of is not None else None
        new_story = story_id is None
        if story_id is None:
            story_id = story_rows.open_story(session, title, now, None)
        article_id = repo.insert_article(
            session,
            article,
            text_hash=f"hash-{slug}",
            fingerprint=len(slug),
            matches=[match],
            duplicate_of=duplicate,
            features={},
            event_at=now - timedelta(hours=1),
            story_id=story_id,
            now=now,
        )
        story_rows.add_to_story(session, story_id, watches=[watch], seen_at=now)
        if new_story:
            story_rows.queue_alert(
                session,
                story_id=story_id,
                article_id=article_id,
                kind="new_story",
                watches=[watch],
                dedup_key=f"new_story:{story_id}",
                channels=[],
                now=now,
            )
        return article_id, story_id
