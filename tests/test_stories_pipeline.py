"""Story assignment through the pipeline's store_article on a real database (SQLite file, and
PostgreSQL where NEWSWATCH_TEST_POSTGRES_URL is set), with the demo newsroom's articles."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import func, select

from alerts.channel_config import ConsoleChannel
from alerts.outbox import RetryPolicy, build_message, deliver_pending
from classifiers.watch_spec import WatchSpec
from classifiers.watches import compile_watch
from flows.pipeline import Placement, StoryContext, store_article
from newswatch.config import load_settings
from newswatch.models import Article
from newswatch.newsroom import SampleArticle, load_later_articles, load_sample_articles
from storage import repo
from storage.db import Database
from storage.models import Alert, ArticleTerm, Delivery, Story, Storyline
from storage.models import Article as ArticleRow

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def context() -> StoryContext:
    return StoryContext.from_settings(load_settings(None))


SAMPLES = {a.slug: a for a in [*load_sample_articles(), *load_later_articles()]}
ORIGINAL = "solvane-engineer-charged-chip-designs"
COPY = "courier-port-ansel-engineer-accused-chip-designs"
PLEA = "solvane-engineer-pleads-not-guilty"


def _article(slug: str, *, url: str | None = None, text: str | None = None) -> Article:
    sample: SampleArticle = SAMPLES[slug]
    link = url or f"https://newsroom.test/articles/{slug}"
    return Article(
        url=link,
        canonical_url=link,
        source="newsroom",
        title=sample.title,
        text=text if text is not None else sample.text,
        fetched_at=sample.published.astimezone(UTC) + timedelta(minutes=5),
        published_at=sample.published.astimezone(UTC),
        sitename=sample.outlet,
    )


def _store(db: Database, context: StoryContext, article: Article) -> Placement:
    with db.session() as session:
        return store_article(session, context, article, NOW)


def _store_all(db: Database, context: StoryContext) -> dict[str, Placement]:
    ordered = sorted(SAMPLES.values(), key=lambda a: a.published)
    return {a.slug: _store(db, context, _article(a.slug)) for a in ordered}


def test_copy_joins_the_story_and_the_follow_up_is_a_development(
    db: Database, context: StoryContext
) -> None:
    placed = _store_all(db, context)
    original, copy, plea = placed[ORIGINAL], placed[COPY], placed[PLEA]
    assert original.new_story and original.alert_kind == "new_story"
    assert copy.duplicate and copy.story_id == original.story_id and copy.alert_id is None
    assert plea.new_story and plea.story_id != original.story_id
    assert plea.storyline_id == original.storyline_id
    assert plea.alert_kind == "development" and plea.earlier_stories == (original.story_id,)
    with db.session() as session:
        story = session.get_one(Story, original.story_id)
        assert story.article_count == 2 and story.watches == ["ip_theft"]
        assert repo.story_outlets(session, story.id) == [
            "Harbor Tech Journal",
            "Calder Bay Courier",
        ]
        assert session.get_one(Storyline, plea.storyline_id).story_count == 2
        # One alert per story, none for the copy; non-matching articles have stories too.
        keys = set(session.scalars(select(Alert.dedup_key)))
        assert f"new_story:{original.story_id}" in keys
        assert f"development:{plea.story_id}" in keys
        assert session.scalar(select(func.count()).select_from(Story)) == len(SAMPLES) - 1


def test_every_article_alerts_at_most_once_and_copies_never(
    db: Database, context: StoryContext
) -> None:
    placed = _store_all(db, context)
    for slug, placement in placed.items():
        sample = SAMPLES[slug]
        assert (placement.alert_id is not None) == (
            bool(sample.expect) and not sample.syndicated_from
        ), slug


def test_a_second_report_of_the_event_joins_its_story_without_an_alert(
    db: Database, context: StoryContext
) -> None:
    first = _store(db, context, _article(ORIGINAL))
    # The same event told by another outlet in its own words: the first paragraphs rewritten.
    sample = SAMPLES[ORIGINAL]
    rewritten = "\n\n".join(
        [
            "Prosecutors in Port Ansel have charged Daniel Lind, a former Solvane Semiconductor "
            "engineer, with stealing chip design files before he left for Teravolt Microsystems.",
            *sample.body[3:],
        ]
    )
    second = _article(ORIGINAL, url="https://other.test/lind-charged", text=rewritten)
    second = replace(second, title="Ex-Solvane engineer Daniel Lind accused of stealing designs")
    placed = _store(
        db, context, replace(second, published_at=second.published_at + timedelta(hours=6))
    )
    assert not placed.duplicate and not placed.new_story
    assert placed.story_id == first.story_id and placed.alert_id is None


def test_refetched_pages_never_alert_and_material_changes_are_developments(
    db: Database, context: StoryContext
) -> None:
    first = _store(db, context, _article(ORIGINAL))
    again = _store(db, context, _article(ORIGINAL))
    assert again.duplicate and again.article_id == first.article_id and again.alert_id is None

    text = SAMPLES[ORIGINAL].text
    cosmetic = _store(db, context, _article(ORIGINAL, text="Updated 16:05\n" + text + "\n"))
    assert cosmetic.duplicate and cosmetic.alert_id is None

    update = text + (
        "\n\nCorrection: prosecutors later said the files were found on a Teravolt server "
        "in Veyla, and that a second engineer is under investigation."
    )
    changed = _store(db, context, _article(ORIGINAL, text=update))
    assert changed.updated and changed.alert_kind == "development"
    assert changed.story_id == first.story_id
    repeat = _store(db, context, _article(ORIGINAL, text=update))
    assert repeat.duplicate and repeat.alert_id is None  # the new text is the stored one now
    with db.session() as session:
        row = session.get_one(ArticleRow, first.article_id)
        assert row.revisions == 1 and row.text == update
        alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
        assert [a.kind for a in alerts] == ["new_story", "development"]
        assert alerts[1].dedup_key.startswith("update:")


def test_development_alert_shows_the_earlier_stories(db: Database, context: StoryContext) -> None:
    context = replace(context, channels=["console"])
    for slug in (ORIGINAL, COPY, PLEA):
        _store(db, context, _article(slug))
    out = io.StringIO()
    report = deliver_pending(
        db,
        {"console": ConsoleChannel(type="console")},
        RetryPolicy(),
        console=Console(file=out, width=200),
        clock=lambda: NOW + timedelta(days=30),
    )
    assert report.sent == 2 and report.failed == 0
    printed = " ".join(out.getvalue().replace("│", " ").split())
    assert "Previously in this storyline" in printed
    assert SAMPLES[ORIGINAL].title in printed
    with db.session() as session:
        [development] = session.scalars(
            select(Delivery).join(Alert).where(Alert.kind == "development")
        )
        message = build_message(development)
        assert message.kind == "development" and message.headline == SAMPLES[PLEA].title
        [previous] = repo.previous_stories(session, development.alert.story_id)
        assert previous.headline == SAMPLES[ORIGINAL].title
        assert previous.url.endswith(ORIGINAL)


def _stored_original(db: Database, context: StoryContext) -> tuple[Placement, list[str], datetime]:
    """The original stored, its index terms and its publication time."""
    first = _store(db, context, _article(ORIGINAL))
    with db.session() as session:
        terms = list(
            session.scalars(
                select(ArticleTerm.term).where(ArticleTerm.article_id == first.article_id)
            )
        )
    return first, terms, SAMPLES[ORIGINAL].published.astimezone(UTC)


def test_candidate_lookup_is_bounded_by_the_time_window(
    db: Database, context: StoryContext
) -> None:
    first, terms, published = _stored_original(db, context)
    with db.session() as session:
        near = repo.event_candidates(session, terms, published - timedelta(days=1), published, 10)
        far = repo.event_candidates(
            session, terms, published + timedelta(days=20), published + timedelta(days=30), 10
        )
    assert [c.id for c in near] == [first.article_id] and far == []


def test_candidate_features_known_to_the_caller_are_not_read(
    db: Database, context: StoryContext
) -> None:
    _, terms, published = _stored_original(db, context)
    with db.session() as session:
        window = (published - timedelta(days=1), published)
        [read] = repo.event_candidates(session, terms, *window, 10)
        [known] = repo.event_candidates(
            session, terms, *window, 10, known=lambda i, source: source == read.source
        )
        # Another text hash or title (a replaced text, another database): read again.
        [changed] = repo.event_candidates(
            session, terms, *window, 10, known=lambda i, source: source == ("x", read.source[1])
        )
    assert read.features and read.source[0] and read.source[1] == SAMPLES[ORIGINAL].title
    assert known.features is None and changed.features == read.features


def test_an_unrelated_story_on_a_watch_opens_its_own_storyline(
    db: Database, context: StoryContext
) -> None:
    watch = compile_watch("chips", WatchSpec(title="Chips", threshold=1.0, terms={"chip*": 2.0}))
    context = replace(context, watches=[watch])
    a = _store(db, context, _article(ORIGINAL))
    b = _store(db, context, _article("st-aldric-hospital-ransomware-attack"))
    assert a.storyline_id != b.storyline_id and b.earlier_stories == ()
