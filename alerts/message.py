"""What an alert says: the plain data every renderer and channel works from.

Built by the outbox from stored rows; nothing here talks to a network or a database.
Every string field except ``watch_titles`` values may come from a fetched page and is
untrusted: renderers escape it for their target (mrkdwn, HTML, mail header, rich markup).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from newswatch.models import Match

AlertKind = Literal["new_story", "development"]

_NO_TITLES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PreviousStory:
    """An earlier article in the same storyline, shown as context under a development."""

    headline: str
    url: str
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One alert, ready to render for any channel.

    ``matches`` holds the watches that fired (the caller filters on ``Match.matched``),
    in the order to show them. ``watch_titles`` maps a watch name (``Match.watch``) to its
    display title from the watch config (e.g. ``"ip_theft" -> "IP theft"``); a watch with
    no entry is shown by its name. Titles are operator config, but are escaped anyway.
    """

    alert_id: int
    kind: AlertKind
    headline: str
    url: str
    outlet: str
    published_at: datetime | None
    matches: tuple[Match, ...]
    lead: str  # first ~300 characters of the article text
    also_reported_by: tuple[str, ...] = ()
    previously: tuple[PreviousStory, ...] = ()
    # Excluded from hash/eq: a mapping is not hashable, and titles are display-only.
    watch_titles: Mapping[str, str] = field(
        default_factory=lambda: _NO_TITLES, hash=False, compare=False
    )

    def watch_title(self, watch: str) -> str:
        """Display title of a watch, falling back to its name."""
        return self.watch_titles.get(watch) or watch
