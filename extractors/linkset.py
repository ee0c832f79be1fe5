"""What every kind of link discovery shares: the error, the link filter and collector,
dates and text clean-up.

The filter (`listed_url`) keeps a link only if, canonicalised, it is http(s) and does not
point inside a network (`addresses.internal_host_reason`: private/loopback/link-local IP
literals, localhost, *.local, *.internal, single-label names, numeric hosts) unless it is
on the listing's own host: a source the user configured on 127.0.0.1 (the demo, the
tests) may list its own pages, but a feed cannot send newswatch to 169.254.169.254 or to
another internal host. `file:`, `javascript:`, `data:` and every other scheme are
dropped. The fetcher checks every address again when it connects; this only drops the
obvious ones early, so they never reach the database.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from extractors.addresses import internal_host_reason
from extractors.urls import canonical_url, is_http_url
from newswatch.models import Link


class LinkDiscoveryError(ValueError):
    """The content could not be read as the kind of source it was said to be."""


def listed_url(raw: str | None, base_url: str, *, own_host: str | None = None) -> str | None:
    """The canonical URL of a listed link, or None if it is not one newswatch may fetch."""
    if not raw:
        return None
    try:
        url = canonical_url(raw, base_url)
    except ValueError:
        return None
    if not is_http_url(url):
        return None
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host != own_host and internal_host_reason(host) is not None:
        return None
    return url


def host_of_listing(base_url: str) -> str | None:
    try:
        return (urlsplit(base_url).hostname or "").rstrip(".").lower() or None
    except ValueError:
        return None


class LinkCollector:
    """Canonical, allowed, de-duplicated links in document order, at most `limit`."""

    def __init__(self, base_url: str, limit: int) -> None:
        self.base_url = base_url
        self.limit = limit
        self.links: list[Link] = []
        self.seen_entries = 0
        self._seen: set[str] = set()
        self._seen_raw: set[tuple[str, str | None]] = set()
        self._own_host = host_of_listing(base_url)

    @property
    def full(self) -> bool:
        return len(self.links) >= self.limit

    def add(self, raw: str | None, make: Callable[[str], Link], *, base: str | None = None) -> None:
        """Add the link `raw` (resolved against `base`, else the listing's URL).

        `make` builds the Link from the canonical URL; it is called only for a new link.
        """
        self.seen_entries += 1
        if self.full or not raw:
            return
        # A listing repeating one link thousands of times costs a set lookup per repeat.
        key = (raw, base)
        if key in self._seen_raw:
            return
        if len(self._seen_raw) < 10 * self.limit:
            self._seen_raw.add(key)
        url = listed_url(raw, base or self.base_url, own_host=self._own_host)
        if url is None or url in self._seen:
            return
        self._seen.add(url)
        self.links.append(make(url))


def parse_w3c_datetime(value: str | None) -> datetime | None:
    """A W3C/ISO 8601 date or datetime as an aware UTC datetime; None if absent or invalid.

    A date alone means midnight UTC; a datetime without an offset is taken as UTC.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_feed_datetime(value: str | None) -> datetime | None:
    """An RFC 822 (RSS) or W3C (Atom, Dublin Core) date as aware UTC; None if unreadable."""
    if not value or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return parse_w3c_datetime(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def clean_text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def html_to_text(markup: str) -> str:
    return html_lib.unescape(_TAG.sub("", markup))


_TAG = re.compile(r"<[^<>]*>")


def one_line(text: str) -> str:
    return " ".join(text.split())[:300]
