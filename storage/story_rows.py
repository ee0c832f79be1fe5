"""The rows an article's placement writes: its story, its storyline, its alert.

Core statements built once, with bind parameters, run on the session's connection. Built
per call through the ORM (a `Session.get`, attribute changes, a flush), these cost about
ten times what SQLite spends running them: building the statement, computing its cache key
and the unit of work were most of the flow's CPU per stored article (bench/store.py).
No ORM object of a story or storyline is loaded here, so none can go stale in the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Alert, Delivery, Story, Storyline

_stories = cast(Table, Story.__table__)
_lines = cast(Table, Storyline.__table__)


@dataclass(frozen=True, slots=True)
class StoryState:
    """A story as placing an article leaves it."""

    id: int
    storyline_id: int | None
    first_seen_at: datetime
    alerted_at: datetime | None


_INSERT_STORYLINE = insert(_lines)
_INSERT_STORY = insert(_stories)
_COUNT_STORY_IN_LINE = (
    update(_lines)
    .where(_lines.c.id == bindparam("b_id"))
    .values(story_count=_lines.c.story_count + 1)
)


def open_story(session: Session, headline: str, seen_at: datetime, storyline_id: int | None) -> int:
    """A new story (no articles yet), in the given storyline or in a new one of its own;
    its id."""
    connection = session.connection()
    times = {"first_seen_at": seen_at, "last_seen_at": seen_at}
    if storyline_id is None:
        storyline_id = _inserted_id(
            connection.execute(
                _INSERT_STORYLINE,
                {"headline": headline, "watches": [], "story_count": 1, "centroid": {}} | times,
            )
        )
    else:
        connection.execute(_COUNT_STORY_IN_LINE, {"b_id": storyline_id})
    return _inserted_id(
        connection.execute(
            _INSERT_STORY,
            {
                "headline": headline,
                "watches": [],
                "article_count": 0,
                "storyline_id": storyline_id,
                "alerted_at": None,
            }
            | times,
        )
    )


_STORY_AND_LINE = (
    select(
        _stories.c.storyline_id,
        _stories.c.first_seen_at,
        _stories.c.last_seen_at,
        _stories.c.watches,
        _stories.c.alerted_at,
        _lines.c.first_seen_at.label("line_first_seen_at"),
        _lines.c.last_seen_at.label("line_last_seen_at"),
        _lines.c.watches.label("line_watches"),
        _lines.c.centroid,
    )
    .select_from(_stories.outerjoin(_lines, _lines.c.id == _stories.c.storyline_id))
    .where(_stories.c.id == bindparam("b_id"))
)
# The count is incremented in SQL, so two runs adding to one story both count.
_UPDATE_STORY = (
    update(_stories)
    .where(_stories.c.id == bindparam("b_id"))
    .values(
        article_count=_stories.c.article_count + 1,
        first_seen_at=bindparam("b_first"),
        last_seen_at=bindparam("b_last"),
        watches=bindparam("b_watches"),
    )
)
_UPDATE_STORYLINE = (
    update(_lines)
    .where(_lines.c.id == bindparam("b_id"))
    .values(
        first_seen_at=bindparam("b_first"),
        last_seen_at=bindparam("b_last"),
        watches=bindparam("b_watches"),
        centroid=bindparam("b_centroid"),
    )
)


def add_to_story(
    session: Session,
    story_id: int,
    *,
    watches: Sequence[str],
    seen_at: datetime,
    centroid: Callable[[dict[str, float]], dict[str, float]] | None = None,
) -> StoryState:
    """Count an article (whose row names the story already) in its story: counts, times and
    watches of the story and its storyline; `centroid`, when given, maps the storyline's
    centroid to its new value. The storyline is written only if something of it changed."""
    connection = session.connection()
    row = connection.execute(_STORY_AND_LINE, {"b_id": story_id}).one()
    first, last = min(row.first_seen_at, seen_at), max(row.last_seen_at, seen_at)
    connection.execute(
        _UPDATE_STORY,
        {
            "b_id": story_id,
            "b_first": first,
            "b_last": last,
            "b_watches": sorted(set(row.watches) | set(watches)),
        },
    )
    if row.storyline_id is not None:
        line_first = min(row.line_first_seen_at, seen_at)
        line_last = max(row.line_last_seen_at, seen_at)
        line_watches = sorted(set(row.line_watches) | set(watches))
        old_centroid = dict(row.centroid or {})
        new_centroid = centroid(dict(old_centroid)) if centroid is not None else old_centroid
        if (line_first, line_last, line_watches, new_centroid) != (
            row.line_first_seen_at,
            row.line_last_seen_at,
            list(row.line_watches),
            old_centroid,
        ):
            connection.execute(
                _UPDATE_STORYLINE,
                {
                    "b_id": row.storyline_id,
                    "b_first": line_first,
                    "b_last": line_last,
                    "b_watches": line_watches,
                    "b_centroid": new_centroid,
                },
            )
    return StoryState(story_id, row.storyline_id, first, row.alerted_at)


_EARLIER_STORIES = (
    select(_stories.c.id)
    .where(
        _stories.c.storyline_id == bindparam("b_line"),
        _stories.c.id != bindparam("b_id"),
        or_(
            _stories.c.first_seen_at < bindparam("b_first"),
            and_(
                _stories.c.first_seen_at == bindparam("b_first"),
                _stories.c.id < bindparam("b_id"),
            ),
        ),
    )
    .order_by(_stories.c.first_seen_at.desc(), _stories.c.id.desc())
)


def earlier_story_ids(
    session: Session, storyline_id: int, story_id: int, first_seen_at: datetime
) -> list[int]:
    """The storyline's stories first seen before this one (first seen at `first_seen_at`),
    most recent first."""
    rows = session.connection().execute(
        _EARLIER_STORIES, {"b_line": storyline_id, "b_id": story_id, "b_first": first_seen_at}
    )
    return [story for (story,) in rows]


_INSERT_ALERT = insert(cast(Table, Alert.__table__))
_INSERT_DELIVERY = insert(cast(Table, Delivery.__table__))
_MARK_ALERTED = (
    update(_stories)
    .where(_stories.c.id == bindparam("b_id"), _stories.c.alerted_at.is_(None))
    .values(alerted_at=bindparam("b_now"))
)


def queue_alert(
    session: Session,
    *,
    story_id: int,
    article_id: int,
    kind: str,
    watches: Sequence[str],
    dedup_key: str,
    channels: Iterable[str],
    now: datetime,
) -> int:
    """An alert and one delivery per channel, in the caller's transaction (the outbox): an
    alert is never stored without its deliveries, nor sent without being stored."""
    connection = session.connection()
    alert_id = _inserted_id(
        connection.execute(
            _INSERT_ALERT,
            {
                "story_id": story_id,
                "article_id": article_id,
                "kind": kind,
                "watches": list(watches),
                "dedup_key": dedup_key,
                "created_at": now,
            },
        )
    )
    deliveries = [
        {"alert_id": alert_id, "channel": channel, "next_attempt_at": now, "created_at": now}
        for channel in channels
    ]
    if deliveries:
        connection.execute(_INSERT_DELIVERY, deliveries)
    connection.execute(_MARK_ALERTED, {"b_id": story_id, "b_now": now})
    return alert_id


def _inserted_id(result: Any) -> int:
    key = cast("CursorResult[Any]", result).inserted_primary_key
    if key is None:  # pragma: no cover - every dialect newswatch supports returns it
        raise RuntimeError("the database returned no id for the inserted row")
    return int(key[0])
