"""The periodic digest: the period's stories per watch, most covered first.

``build_digest`` is pure: it takes the matched articles of the period (``storage.repo.
DigestRow``, read by the caller) and groups them into stories per watch, ranked by how many
articles and outlets covered them. Articles that did not alert on their own (copies, later
reports of a story already alerted) are listed under their story, marked as such.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from storage import repo
from storage.repo import DigestRow

ARTICLES_PER_STORY = 5  # shown under a story; the rest are counted


@dataclass(frozen=True, slots=True)
class DigestArticle:
    headline: str
    url: str
    outlet: str
    published_at: datetime | None
    alerted: bool  # this article had an alert of its own
    is_copy: bool  # a copy (syndicated, near-duplicate) of another outlet's article


@dataclass(frozen=True, slots=True)
class DigestStory:
    headline: str
    url: str  # its first article in the period
    articles: tuple[DigestArticle, ...]  # in the order they were stored
    outlets: tuple[str, ...]
    top_score: float

    @property
    def quiet_articles(self) -> int:
        """Articles that did not alert on their own."""
        return sum(not a.alerted for a in self.articles)


@dataclass(frozen=True, slots=True)
class DigestSection:
    watch: str
    title: str
    stories: tuple[DigestStory, ...]  # most covered first, at most the cap
    more_stories: int  # stories beyond the cap
    article_count: int


@dataclass(frozen=True, slots=True)
class Digest:
    since: datetime
    until: datetime
    sections: tuple[DigestSection, ...]  # watches in config order, empty watches left out

    @property
    def story_count(self) -> int:
        return sum(len(s.stories) + s.more_stories for s in self.sections)

    @property
    def article_count(self) -> int:
        return sum(s.article_count for s in self.sections)

    @property
    def is_empty(self) -> bool:
        return not self.sections


def _story(rows: list[DigestRow]) -> DigestStory:
    articles = tuple(
        DigestArticle(r.title, r.url, r.outlet, r.published_at, r.alerted, r.is_copy) for r in rows
    )
    originals = [r for r in rows if not r.is_copy] or rows
    return DigestStory(
        headline=rows[0].story_headline or originals[0].title,
        url=originals[0].url,
        articles=articles,
        outlets=tuple(dict.fromkeys(r.outlet for r in rows)),
        top_score=max(r.score for r in rows),
    )


def _coverage(story: DigestStory) -> tuple[int, int, float]:
    return (len(story.articles), len(story.outlets), story.top_score)


def build_digest(
    rows: Iterable[DigestRow],
    *,
    since: datetime,
    until: datetime,
    watch_titles: Mapping[str, str],
    max_stories: int = 15,
) -> Digest:
    """Group the period's matches into stories per watch, most covered first.

    Watches appear in the order of ``watch_titles`` (the config order), then any other
    watch found in the rows; a watch with nothing in the period is left out. An article
    without a story (stored before stories existed) is a story of its own.
    """
    by_watch: dict[str, dict[int | str, list[DigestRow]]] = defaultdict(dict)
    for row in rows:
        key: int | str = row.story_id if row.story_id is not None else f"article:{row.article_id}"
        by_watch[row.watch].setdefault(key, []).append(row)
    order = [w for w in watch_titles if w in by_watch] + sorted(
        w for w in by_watch if w not in watch_titles
    )
    sections = []
    for watch in order:
        stories = sorted(
            (_story(group) for group in by_watch[watch].values()), key=_coverage, reverse=True
        )
        sections.append(
            DigestSection(
                watch=watch,
                title=watch_titles.get(watch) or watch,
                stories=tuple(stories[:max_stories]),
                more_stories=max(0, len(stories) - max_stories),
                article_count=sum(len(s.articles) for s in stories),
            )
        )
    return Digest(since=since, until=until, sections=tuple(sections))


def collect_digest(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    watch_titles: Mapping[str, str],
    max_stories: int = 15,
) -> Digest:
    """The digest of ``[since, until)`` from the store (read in the caller's session)."""
    rows = repo.digest_rows(session, since=since, until=until)
    return build_digest(
        rows, since=since, until=until, watch_titles=watch_titles, max_stories=max_stories
    )
