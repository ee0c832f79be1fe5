"""`newswatch eval stories`: story clustering, alerts and storyline links on labeled articles.

A record file is JSON Lines, one article a line: ``text``, ``event`` (same slug = same
real-world happening), ``storyline`` (slug or null) and ``event_date`` (YYYY-MM-DD or
YYYY-MM, used as the publication time); ``id`` and ``url`` are optional. The articles are
replayed in date order through the pipeline's own :func:`flows.pipeline.store_article`, on
a temporary SQLite file, with the configured watches, so the figures are the flow's.

Measures:
- event clustering: B-cubed and pairwise precision, recall and F1 of stories against events;
- alerts the replay would send, against the distinct events among articles that matched a
  watch (``relevant_events``);
- storyline links: a new story links to the earlier stories of the storyline it joins (the
  "previously" of its alert). Precision: the share of links to a story whose event is in the
  same labeled storyline. Recall: of the (new story, earlier event of its storyline) pairs,
  the share where the story links to a story of that event. A story is labeled by the event
  of its first article.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich import box
from rich.table import Table

from classifiers.events import title_from_text
from flows.pipeline import Placement, StoryContext, store_article
from newswatch.evaluate import json_objects
from newswatch.models import Article
from storage.db import Database


class StoryDataError(ValueError):
    """The labeled file cannot be used; the message names the line at fault."""


@dataclass(frozen=True, slots=True)
class StoryRecord:
    id: str
    url: str
    text: str
    event: str
    storyline: str | None
    published_at: datetime


def parse_date(value: str) -> datetime:
    """YYYY-MM-DD or YYYY-MM (the first of the month), as midnight UTC."""
    text = value.strip()
    if len(text) == 7:
        text += "-01"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def read_story_records(path: Path) -> list[StoryRecord]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise StoryDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_story_records(lines, str(path))


def parse_story_records(lines: Iterable[str], where: str = "records") -> list[StoryRecord]:
    records: list[StoryRecord] = []
    for number, data in json_objects(lines, where, StoryDataError):
        for key in ("text", "event", "event_date"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise StoryDataError(f"{where}: line {number}: `{key}` must be a non-empty string")
        storyline = data.get("storyline")
        if storyline is not None and not isinstance(storyline, str):
            raise StoryDataError(f"{where}: line {number}: `storyline` must be a string or null")
        try:
            published = parse_date(data["event_date"])
        except ValueError:
            raise StoryDataError(
                f"{where}: line {number}: `event_date` must be YYYY-MM-DD or YYYY-MM"
            ) from None
        record_id = str(data.get("id") or number)
        url = str(data.get("url") or f"https://eval.invalid/{record_id}")
        records.append(
            StoryRecord(record_id, url, data["text"], data["event"], storyline, published)
        )
    if not records:
        raise StoryDataError(f"{where}: no records")
    return records


def as_article(record: StoryRecord, index: int) -> Article:
    host = urlsplit(record.url).hostname or "eval"
    return Article(
        url=record.url,
        # One record, one page: a repeated URL in the file must not read as a re-fetch.
        canonical_url=f"{record.url}#eval-{index}",
        source=host,
        title=title_from_text(record.text),
        text=record.text,
        fetched_at=record.published_at,
        published_at=record.published_at,
        sitename=host,
    )


def replay(records: Sequence[StoryRecord], context: StoryContext) -> list[Placement]:
    """Store the records oldest first (file order within a date) in a temporary database;
    the placement of each record, in the order given."""
    order = sorted(range(len(records)), key=lambda i: records[i].published_at)
    placements: dict[int, Placement] = {}
    with tempfile.TemporaryDirectory(prefix="newswatch-eval-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'eval.db'}")
        try:
            db.create_all()
            for i in order:
                with db.session() as session:
                    placements[i] = store_article(
                        session, context, as_article(records[i], i), datetime.now(UTC)
                    )
        finally:
            db.dispose()
    return [placements[i] for i in range(len(records))]


@dataclass(frozen=True, slots=True)
class StoryEvaluation:
    articles: int
    events: int
    stories: int
    bcubed_precision: float
    bcubed_recall: float
    pairwise_precision: float
    pairwise_recall: float
    alerts: int
    relevant_events: int
    storyline_links: int
    storyline_correct: int  # links to a story of the same labeled storyline
    storyline_wanted: int  # (new story, earlier event of its storyline) pairs
    storyline_found: int  # ... of which the new story links to a story of that event
    copies: int

    @property
    def storyline_precision(self) -> float:
        return self.storyline_correct / self.storyline_links if self.storyline_links else 1.0

    @property
    def storyline_recall(self) -> float:
        return self.storyline_found / self.storyline_wanted if self.storyline_wanted else 1.0

    @property
    def bcubed_f1(self) -> float:
        return _f1(self.bcubed_precision, self.bcubed_recall)

    @property
    def pairwise_f1(self) -> float:
        return _f1(self.pairwise_precision, self.pairwise_recall)

    @property
    def alerts_per_relevant_event(self) -> float:
        return self.alerts / self.relevant_events if self.relevant_events else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "events": self.events,
            "stories": self.stories,
            "bcubed_precision": round(self.bcubed_precision, 4),
            "bcubed_recall": round(self.bcubed_recall, 4),
            "bcubed_f1": round(self.bcubed_f1, 4),
            "pairwise_precision": round(self.pairwise_precision, 4),
            "pairwise_recall": round(self.pairwise_recall, 4),
            "pairwise_f1": round(self.pairwise_f1, 4),
            "alerts": self.alerts,
            "relevant_events": self.relevant_events,
            "alerts_per_relevant_event": round(self.alerts_per_relevant_event, 4),
            "storyline_links": self.storyline_links,
            "storyline_links_correct": self.storyline_correct,
            "storyline_earlier_events": self.storyline_wanted,
            "storyline_earlier_events_found": self.storyline_found,
            "storyline_precision": round(self.storyline_precision, 4),
            "storyline_recall": round(self.storyline_recall, 4),
            "copies": self.copies,
        }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate_stories(
    records: Sequence[StoryRecord], placements: Sequence[Placement]
) -> StoryEvaluation:
    n = len(records)
    clusters = [p.story_id if p.story_id is not None else -1 - i for i, p in enumerate(placements)]
    events = [r.event for r in records]
    bp, br = _bcubed(clusters, events)
    pp, pr = _pairwise(clusters, events)
    links, correct, wanted, found = _storyline_counts(records, placements)
    return StoryEvaluation(
        articles=n,
        events=len(set(events)),
        stories=len(set(clusters)),
        bcubed_precision=bp,
        bcubed_recall=br,
        pairwise_precision=pp,
        pairwise_recall=pr,
        alerts=sum(p.alert_id is not None for p in placements),
        relevant_events=len(
            {r.event for r, p in zip(records, placements, strict=True) if p.matched}
        ),
        storyline_links=links,
        storyline_correct=correct,
        storyline_wanted=wanted,
        storyline_found=found,
        copies=sum(p.duplicate for p in placements),
    )


def _bcubed(clusters: Sequence[int], events: Sequence[str]) -> tuple[float, float]:
    pair_count = Counter(zip(clusters, events, strict=True))
    cluster_size, event_size = Counter(clusters), Counter(events)
    n = len(clusters)
    precision = sum(
        pair_count[(c, e)] / cluster_size[c] for c, e in zip(clusters, events, strict=True)
    )
    recall = sum(pair_count[(c, e)] / event_size[e] for c, e in zip(clusters, events, strict=True))
    return precision / n, recall / n


def _pairs(sizes: Iterable[int]) -> int:
    return sum(k * (k - 1) // 2 for k in sizes)


def _pairwise(clusters: Sequence[int], events: Sequence[str]) -> tuple[float, float]:
    together = _pairs(Counter(zip(clusters, events, strict=True)).values())
    clustered = _pairs(Counter(clusters).values())
    same_event = _pairs(Counter(events).values())
    precision = together / clustered if clustered else 1.0
    recall = together / same_event if same_event else 1.0
    return precision, recall


def _storyline_counts(
    records: Sequence[StoryRecord], placements: Sequence[Placement]
) -> tuple[int, int, int, int]:
    """(links, correct links, earlier events wanted, found) of the links new stories make."""
    order = sorted(range(len(records)), key=lambda i: records[i].published_at)
    story_event: dict[int, str] = {}
    event_line = {r.event: r.storyline for r in records}
    seen_events: list[str] = []
    correct = links = found = wanted = 0
    for i in order:
        record, placement = records[i], placements[i]
        if placement.story_id is not None and placement.story_id not in story_event:
            story_event[placement.story_id] = record.event
        if placement.new_story and placement.story_id is not None:
            line = event_line[record.event]
            linked_events = {story_event[s] for s in placement.earlier_stories if s in story_event}
            for story in placement.earlier_stories:
                links += 1
                other = story_event.get(story)
                correct += line is not None and other is not None and event_line[other] == line
            if line is not None:
                earlier = {e for e in seen_events if event_line[e] == line and e != record.event}
                wanted += len(earlier)
                found += len(earlier & linked_events)
        if record.event not in seen_events:
            seen_events.append(record.event)
    return links, correct, wanted, found


def evaluation_table(result: StoryEvaluation, path: str) -> Table:
    table = Table(title=f"story evaluation: {path}", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    rows: list[tuple[str, str, str]] = [
        (
            "articles / events / stories",
            f"{result.articles} / {result.events} / {result.stories}",
            "",
        ),
        ("B-cubed precision", f"{result.bcubed_precision:.3f}", ""),
        ("B-cubed recall", f"{result.bcubed_recall:.3f}", ""),
        ("B-cubed F1", f"{result.bcubed_f1:.3f}", ">= 0.90"),
        (
            "pairwise precision / recall",
            f"{result.pairwise_precision:.3f} / {result.pairwise_recall:.3f}",
            "",
        ),
        ("pairwise F1", f"{result.pairwise_f1:.3f}", ""),
        ("alerts / relevant events", f"{result.alerts} / {result.relevant_events}", ""),
        ("alerts per relevant event", f"{result.alerts_per_relevant_event:.2f}", "<= 1.1"),
        ("storyline links", str(result.storyline_links), ""),
        ("storyline precision", f"{result.storyline_precision:.3f}", ">= 0.8"),
        ("storyline recall", f"{result.storyline_recall:.3f}", ">= 0.8"),
        ("copies recognised", str(result.copies), ""),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def per_event_summary(
    records: Sequence[StoryRecord], placements: Sequence[Placement]
) -> dict[str, list[int]]:
    """Event slug -> the stories its articles went to (for reading a run's errors)."""
    out: dict[str, list[int]] = defaultdict(list)
    for record, placement in zip(records, placements, strict=True):
        out[record.event].append(placement.story_id or -1)
    return dict(out)
