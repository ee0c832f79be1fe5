"""Story assignment cost against the size of the store: 10,000 then 100,000 stored articles.

    uv run python bench/stories_scale.py [--sample 200] [--database-url URL]

A synthetic newsroom publishes PER_DAY articles a day: events of one to four reports each
(names and vocabulary of their own over a shared Zipf vocabulary), some continuing an
earlier event's storyline. A store is filled with the first 10,000 (100 days), another with
100,000 (1,000 days), by bulk inserts that write what the pipeline writes (articles with
their features, stories, storylines, document frequencies, the key-term and storyline-term
indexes). Then the same kind of fresh articles, published the day after the last stored one,
go one by one through the pipeline's own flows.pipeline.store_article (copy detection,
candidate lookup, event and storyline decision, insert, index updates, commit), and the mean
per-article time is printed for each store, with their ratio (target <= 1.5: the cost must
not grow with the store, since every lookup is an index range in a bounded time window or a
bounded most-recent-per-term list).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from classifiers.events import (
    INDEX_TERMS,
    LINE_INDEX_TERMS,
    FrequencyTable,
    extract_features,
    lead_vector,
    text_vector,
    top_terms,
)
from classifiers.fingerprint import simhash, text_hash, to_signed64
from flows.pipeline import StoryContext, store_article
from newswatch.models import Article
from storage.db import Database
from storage.models import (
    DOCUMENTS_TERM,
    ArticleTerm,
    Base,
    Story,
    Storyline,
    StorylineTerm,
    TermStat,
)
from storage.models import Article as ArticleRow

PER_DAY = 100
START = datetime(2024, 1, 1, tzinfo=UTC)
# Names of three syllables: 8,000 of them, so two events rarely share one by chance.
_SYLLABLE_TEXT = "ka lo mi ne ru sa te vo zu bri dan fel gor hin jas kel mor nut pal quin"
SYLLABLES = tuple(_SYLLABLE_TEXT.split())


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


@dataclass(slots=True)
class Event:
    names: list[str]
    words: list[str]
    day: int


class Newsroom:
    """Deterministic synthetic articles: a shared vocabulary, events with their own names."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.common = sorted({_word(self.rng, 3) for _ in range(6000)})
        self.weights = [1 / (rank + 1) for rank in range(len(self.common))]
        self.events: list[Event] = []

    def new_event(self, day: int) -> Event:
        rng = self.rng
        if self.events and rng.random() < 0.2:  # a development: an earlier event's names
            earlier = rng.choice(self.events[-2000:])
            names = earlier.names[:3] + [_word(rng, 3).capitalize() for _ in range(2)]
        else:
            names = [_word(rng, 3).capitalize() for _ in range(5)]
        event = Event(names, rng.sample(self.common[500:], 25), day)
        self.events.append(event)
        return event

    def article(self, event: Event, n: int, day: int) -> Article:
        rng = self.rng
        sentences = []
        for _ in range(8):
            words = rng.choices(self.common, self.weights, k=9) + rng.sample(event.words, 3)
            rng.shuffle(words)
            words[2:2] = [rng.choice(event.names)]
            words[6:6] = [rng.choice(event.names)]
            sentences.append("The " + " ".join(words) + ".")
        title = " ".join([*event.names[:2], *rng.sample(event.words, 4)]).capitalize()
        when = START + timedelta(days=day, minutes=rng.randrange(24 * 60))
        url = f"https://synthetic.example/{day}/{n}"
        return Article(
            url=url,
            canonical_url=url,
            source=f"outlet{rng.randrange(40)}",
            title=title,
            text="\n\n".join(" ".join(sentences[i : i + 2]) for i in range(0, 8, 2)),
            fetched_at=when,
            published_at=when,
        )

    def day_of_articles(self, day: int, first_n: int) -> list[tuple[Article, int]]:
        """PER_DAY articles: (article, event index)."""
        out: list[tuple[Article, int]] = []
        while len(out) < PER_DAY:
            event = self.new_event(day)
            for _ in range(min(self.rng.choice((1, 1, 2, 3, 4)), PER_DAY - len(out))):
                out.append((self.article(event, first_n + len(out), day), len(self.events) - 1))
        return out


def bulk_fill(db: Database, room: Newsroom, days: int) -> None:
    """Write what the pipeline would for `days` days of articles, without its searches: each
    synthetic event is one story, each in a storyline of its own."""
    rows: list[tuple[Article, int]] = []
    for day in range(days):
        rows.extend(room.day_of_articles(day, len(rows)))
    features = [extract_features(a.title, a.text) for a, _ in rows]
    df: Counter[str] = Counter()
    for f in features:
        df.update(f.vocabulary())
    stats = FrequencyTable(len(rows), df)
    with db.session() as session:
        conn = session.connection()
        event_ids = sorted({e for _, e in rows})
        conn.execute(
            insert(Storyline),
            [
                {
                    "id": e + 1,
                    "headline": "",
                    "watches": [],
                    "first_seen_at": START,
                    "last_seen_at": START,
                    "story_count": 1,
                    "centroid": {},
                }
                for e in event_ids
            ],
        )
        conn.execute(
            insert(Story),
            [
                {
                    "id": e + 1,
                    "headline": "",
                    "watches": [],
                    "first_seen_at": START + timedelta(days=room.events[e].day),
                    "last_seen_at": START + timedelta(days=room.events[e].day),
                    "article_count": 1,
                    "storyline_id": e + 1,
                }
                for e in event_ids
            ],
        )
        article_rows: list[dict[str, Any]] = []
        postings: list[dict[str, Any]] = []
        line_terms: dict[tuple[str, int], datetime | None] = {}
        for i, ((article, event), feats) in enumerate(zip(rows, features, strict=True)):
            vector = text_vector(feats, stats)
            article_rows.append(
                {
                    "id": i + 1,
                    "canonical_url": article.canonical_url,
                    "url": article.url,
                    "source": article.source,
                    "title": article.title,
                    "published_at": article.published_at,
                    "fetched_at": article.fetched_at,
                    "stored_at": article.fetched_at,
                    "text": article.text,
                    "text_hash": text_hash(article.text),
                    "fingerprint": to_signed64(simhash(article.text)),
                    "story_id": event + 1,
                    "event_at": article.published_at,
                    "features": feats.to_json(),
                    "revisions": 0,
                }
            )
            postings.extend(
                {"term": t, "article_id": i + 1, "seen_at": article.published_at}
                for t in top_terms(vector, INDEX_TERMS)
            )
            for t in top_terms(lead_vector(feats, stats), LINE_INDEX_TERMS):
                line_terms[(t, event + 1)] = article.published_at
        for start in range(0, len(article_rows), 5000):
            conn.execute(insert(ArticleRow), article_rows[start : start + 5000])
        for start in range(0, len(postings), 20000):
            conn.execute(insert(ArticleTerm), postings[start : start + 20000])
        conn.execute(
            insert(StorylineTerm),
            [{"term": t, "storyline_id": s, "seen_at": at} for (t, s), at in line_terms.items()],
        )
        conn.execute(
            insert(TermStat),
            [{"term": t, "df": n} for t, n in df.items()]
            + [{"term": DOCUMENTS_TERM, "df": len(rows)}],
        )


def fresh_articles(room: Newsroom, day: int, sample: int) -> list[Article]:
    """`sample` new articles published on `day` (new events and reports of them)."""
    articles: list[Article] = []
    while len(articles) < sample:
        articles += [a for a, _ in room.day_of_articles(day, 10_000_000 + len(articles))]
    return articles[:sample]


def store_timed(db: Database, context: StoryContext, article: Article) -> float:
    started = time.perf_counter()
    with db.session() as session:
        store_article(session, context, article, datetime.now(UTC))
    return time.perf_counter() - started


def fill(url: str | None, stored: int, tmp: Path) -> tuple[Database, list[Article]]:
    """A store of `stored` articles, and fresh articles published the day after them."""
    db = Database(url or f"sqlite:///{tmp / f'scale-{stored}.db'}")
    Base.metadata.drop_all(db.engine)
    db.create_all()
    room = Newsroom(seed=7)
    days = stored // PER_DAY
    started = time.perf_counter()
    bulk_fill(db, room, days)
    print(f"{stored:>7} stored ({days} days) in {time.perf_counter() - started:.0f} s", flush=True)
    return db, fresh_articles(room, days, SAMPLE_MAX)


SAMPLE_MAX = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=200, help="articles timed per store")
    parser.add_argument("--database-url", help="a scratch database (default: SQLite files)")
    args = parser.parse_args()
    sample = min(args.sample, SAMPLE_MAX)
    context = StoryContext(watches=[], channels=[], near_duplicate_days=14)
    with tempfile.TemporaryDirectory(prefix="newswatch-bench-") as tmp:
        if args.database_url:  # one scratch database: one store at a time
            small_db, small_articles = fill(args.database_url, 10_000, Path(tmp))
            small = [store_timed(small_db, context, a) for a in small_articles[:sample]]
            small_db.dispose()
            large_db, large_articles = fill(args.database_url, 100_000, Path(tmp))
            large = [store_timed(large_db, context, a) for a in large_articles[:sample]]
            large_db.dispose()
        else:
            small_db, small_articles = fill(None, 10_000, Path(tmp))
            large_db, large_articles = fill(None, 100_000, Path(tmp))
            # Alternate the two stores article by article, so that whatever else the machine
            # does weighs on both measurements alike.
            small, large = [], []
            for a, b in zip(small_articles[:sample], large_articles[:sample], strict=True):
                small.append(store_timed(small_db, context, a))
                large.append(store_timed(large_db, context, b))
            small_db.dispose()
            large_db.dispose()
    for stored, times in ((10_000, small), (100_000, large)):
        print(
            f"{stored:>7} stored: {len(times)} articles assigned, "
            f"mean {statistics.fmean(times) * 1000:.2f} ms, "
            f"median {statistics.median(times) * 1000:.2f} ms, "
            f"p90 {statistics.quantiles(times, n=10)[-1] * 1000:.2f} ms"
        )
    ratio = statistics.fmean(large) / statistics.fmean(small)
    median_ratio = statistics.median(large) / statistics.median(small)
    print(
        f"per-article assignment: {statistics.fmean(small) * 1000:.2f} ms at 10,000 stored, "
        f"{statistics.fmean(large) * 1000:.2f} ms at 100,000 stored; ratio {ratio:.2f} "
        f"(medians: {median_ratio:.2f}; target <= 1.5)"
    )


if __name__ == "__main__":
    main()
