"""RSS (0.9x, 1.0, 2.0) and Atom feeds: article links, streamed, bounded, safe.

Well-formed feeds are read with lxml's `iterparse`: entry by entry, each entry freed once
read, stopping at `limit` links, so a 50,000-entry feed costs the memory of one entry
(plus the bytes, already capped by the fetcher). The parser resolves no entities, loads
no DTD and touches no network, and documents that declare entities are refused before
parsing (`xml_safety`).

Broken feeds (undefined entities such as `&nbsp;`, stray `&`, truncation) are common;
those go to feedparser's forgiving parser, on at most MAX_LOOSE_FEED_BYTES (feedparser
builds every entry in memory, ~10x the bytes, at ~7,000 entries a second).
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree

from extractors.linkset import (
    LinkCollector,
    LinkDiscoveryError,
    clean_text,
    html_to_text,
    one_line,
    parse_feed_datetime,
)
from extractors.urls import is_http_url
from extractors.xml_safety import UnsafeXML, refuse_entity_declarations
from newswatch.models import Link

MAX_LOOSE_FEED_BYTES = 1_000_000
_FEED_ROOTS = frozenset({"rss", "RDF", "feed"})
_ENTRY_TAGS = frozenset({"item", "entry"})
_HTML_START = re.compile(
    rb"^(\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_MARKUP = re.compile(r"<[a-zA-Z/!]")
# Dates by preference: publication first, then last update (as feedparser does).
_PUBLISHED = ("pubDate", "published", "issued", "date", "created")
_UPDATED = ("updated", "modified", "lastBuildDate")


def parse_feed(content: bytes, base_url: str, *, limit: int = 500) -> list[Link]:
    """Links of a feed's entries, canonical, allowed, de-duplicated, at most `limit`."""
    try:
        refuse_entity_declarations(content)
    except UnsafeXML as exc:
        raise LinkDiscoveryError(f"not a valid RSS/Atom feed: {exc}") from exc
    if _HTML_START.match(content[:4096]):
        raise LinkDiscoveryError("not a valid RSS/Atom feed: an HTML page, not a feed")
    streamed = LinkCollector(base_url, limit)
    try:
        _stream(content, streamed)
    except etree.XMLSyntaxError as exc:
        loose = _loose(content, base_url, limit)
        best = loose if len(loose) >= len(streamed.links) else streamed.links
        if not best:
            raise LinkDiscoveryError(f"not a valid RSS/Atom feed: {one_line(str(exc))}") from exc
        return best
    return streamed.links


def _stream(content: bytes, collector: LinkCollector) -> None:
    events = etree.iterparse(
        io.BytesIO(content),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    root: Any = None
    for event, element in events:
        if root is None:
            root = element
            name = _local(root)
            if name not in _FEED_ROOTS:
                raise LinkDiscoveryError(
                    f"not a valid RSS/Atom feed: root element is <{name}>, "
                    "expected <rss>, <rdf:RDF> or <feed>"
                )
            continue
        if event != "end" or _local(element) not in _ENTRY_TAGS:
            continue
        parent = element.getparent()
        if parent is not None and parent is not root and _local(parent) != "channel":
            continue  # an <item> nested in some extension, not an entry of the feed
        _add_entry(element, collector)
        _free(element)
        if collector.full:
            return
    if root is None:
        raise LinkDiscoveryError("not a valid RSS/Atom feed: empty document")


def _free(element: Any) -> None:
    # Drop the entry and every earlier sibling: memory stays at one entry.
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _local(element: Any) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(element: Any, *names: str) -> Iterator[Any]:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child.tag).localname in names:
            yield child


def _add_entry(entry: Any, collector: LinkCollector) -> None:
    href, xml_base = _entry_link(entry)
    base = urljoin(collector.base_url, xml_base) if xml_base else None
    collector.add(
        href,
        lambda url: Link(url=url, title=_entry_title(entry), published_at=_entry_date(entry)),
        base=base,
    )


def _entry_link(entry: Any) -> tuple[str | None, str | None]:
    """(link as written, xml:base it is relative to) of an RSS item or Atom entry."""
    for link in _children(entry, "link"):
        href = link.get("href")
        if href is not None:  # Atom (or atom:link inside an RSS item)
            if link.get("rel", "alternate") == "alternate":
                return href.strip(), _xml_base(link)
        elif link.text and link.text.strip():
            return link.text.strip(), _xml_base(link)
    for guid in _children(entry, "guid"):
        text = (guid.text or "").strip()
        if guid.get("isPermaLink", "true").lower() != "false" and is_http_url(text):
            return text, None
    # Some Atom feeds carry the article URL only as the entry id.
    for entry_id in _children(entry, "id"):
        text = (entry_id.text or "").strip()
        if is_http_url(text):
            return text, None
    return None, None


def _xml_base(element: Any) -> str | None:
    # lxml combines the xml:base attributes of the element and its ancestors.
    base = element.base
    return str(base) if base else None


def _entry_title(entry: Any) -> str | None:
    title = next(_children(entry, "title"), None)
    if title is None:
        return None
    kind = (title.get("type") or "text").lower()
    if kind == "xhtml":
        return clean_text("".join(title.itertext()))
    text = title.text or ""
    if kind in ("html", "text/html") or _MARKUP.search(text):
        text = html_to_text(text)
    return clean_text(text)


def _entry_date(entry: Any) -> datetime | None:
    for names in (_PUBLISHED, _UPDATED):
        for element in _children(entry, *names):
            parsed = parse_feed_datetime(element.text)
            if parsed is not None:
                return parsed
    return None


# --- the forgiving path -------------------------------------------------------------------


def _loose(content: bytes, base_url: str, limit: int) -> list[Link]:
    # A file object, never a str/bytes: feedparser treats strings as possible URLs/paths.
    # The content type is asserted so feedparser does not flag every feed for lacking one.
    parsed = feedparser.parse(
        io.BytesIO(content[:MAX_LOOSE_FEED_BYTES]),
        response_headers={"content-location": base_url, "content-type": "application/xml"},
    )
    entries: list[Any] = list(parsed.get("entries") or [])
    collector = LinkCollector(base_url, limit)
    for entry in entries:
        collector.add(_loose_link(entry), partial(_loose_to_link, entry=entry))
        if collector.full:
            break
    return collector.links


def _loose_link(entry: Any) -> str | None:
    link = entry.get("link")
    if link:
        return str(link)
    for candidate in entry.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    entry_id = entry.get("id")
    return str(entry_id) if entry_id and is_http_url(str(entry_id)) else None


def _loose_to_link(url: str, entry: Any) -> Link:
    title = entry.get("title")
    if title and "html" in str((entry.get("title_detail") or {}).get("type", "")):
        title = html_to_text(title)
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    # feedparser normalises dates to UTC struct_time.
    published = datetime.fromtimestamp(calendar.timegm(when), UTC) if when else None
    return Link(url=url, title=clean_text(title), published_at=published)
