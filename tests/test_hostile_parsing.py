"""Issue 6's hostile listings: what a source serves as its feed or sitemap.

Each test polls the hostile listing and, in the same run, a well-behaved feed on another
site: the hostile source fails (or is cut) with a clear reason, the other is unaffected.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from extractors.links import LinkDiscoveryError, discover_links
from tests.support.hostile_newsroom import (
    BIG_FEED_ENTRIES,
    HostileNewsroom,
    SourceRun,
    assert_good_feed_worked,
    big_feed,
    big_sitemap,
    hostile_policy,
    hostile_run,
)


@pytest.fixture
def room() -> Iterator[HostileNewsroom]:
    with HostileNewsroom() as hostile:
        yield hostile


@pytest.fixture
def other() -> Iterator[HostileNewsroom]:
    with HostileNewsroom() as site:
        yield site


def poll_with_good_feed(
    room: HostileNewsroom,
    other: HostileNewsroom,
    kind: str,
    path: str,
    *,
    page_limit: int = 100,
    **policy: object,
) -> SourceRun:
    run = hostile_run(
        hostile_policy(**policy),
        sources=[(kind, room.url(path)), ("rss", other.url("/feed.xml"))],
        page_limit=page_limit,
    )
    assert_good_feed_worked(run, other)
    return run.sources[room.url(path)]


def discovery_error(source: SourceRun) -> str:
    assert isinstance(source.error, LinkDiscoveryError), source.error
    return str(source.error)


def test_html_page_served_as_a_feed(room: HostileNewsroom, other: HostileNewsroom) -> None:
    source = poll_with_good_feed(room, other, "rss", "/html-as-feed")
    assert discovery_error(source) == "not a valid RSS/Atom feed: an HTML page, not a feed"


def test_malformed_xml(room: HostileNewsroom, other: HostileNewsroom) -> None:
    source = poll_with_good_feed(room, other, "rss", "/malformed.xml")
    assert discovery_error(source).startswith("not a valid RSS/Atom feed: ")


def test_sloppy_but_recoverable_xml_still_gives_its_entries(
    room: HostileNewsroom, other: HostileNewsroom
) -> None:
    source = poll_with_good_feed(room, other, "rss", "/sloppy.xml")
    assert [link.url for link in source.links] == [room.url("/articles/tariff-talks")]
    assert source.links[0].title == "Tariff talks resume"


@pytest.mark.parametrize("path", ["/billion-laughs.xml", "/xxe.xml"])
def test_entity_declarations_are_refused(
    room: HostileNewsroom, other: HostileNewsroom, path: str
) -> None:
    source = poll_with_good_feed(room, other, "rss", path)
    message = discovery_error(source)
    assert message == (
        "not a valid RSS/Atom feed: "
        "refused: the document declares XML entities (XXE / entity expansion)"
    )
    assert "root:" not in message  # nothing of /etc/passwd


def test_50000_entry_feed_gives_the_first_links_up_to_the_cap(
    room: HostileNewsroom, other: HostileNewsroom
) -> None:
    source = poll_with_good_feed(
        room, other, "rss", "/big-feed.xml", page_limit=25, max_bytes=16_000_000
    )
    assert source.error is None
    assert [link.url for link in source.links] == [
        room.url(f"/articles/story-number-{i}") for i in range(25)
    ]
    assert len(source.pages) == 25  # the per-source cap on new links per run


def test_50000_url_sitemap_gives_the_first_links_up_to_the_cap(
    room: HostileNewsroom, other: HostileNewsroom
) -> None:
    source = poll_with_good_feed(
        room, other, "sitemap", "/big-sitemap.xml", page_limit=25, max_bytes=16_000_000
    )
    assert source.error is None
    assert [link.url for link in source.links] == [
        room.url(f"/articles/story-number-{i}") for i in range(25)
    ]


@pytest.mark.parametrize(
    ("kind", "make"), [("rss", big_feed), ("sitemap", big_sitemap)], ids=["feed", "sitemap"]
)
def test_big_listings_are_parsed_with_bounded_memory(
    kind: str, make: Callable[[str], bytes]
) -> None:
    base = "https://firehose.example"
    content = make(base)
    assert content.count(b"<loc>" if kind == "sitemap" else b"<item>") == BIG_FEED_ENTRIES
    # Python-level allocations while parsing: the stream keeps one entry at a time, and
    # builds Link objects only up to the limit (feedparser would hold 50,000 entries).
    tracemalloc.start()
    try:
        links = discover_links(kind, content, base + "/listing", limit=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(links) == 100
    assert peak < 2_000_000, peak


def test_every_entry_of_a_big_feed_is_read_within_bounds_when_none_is_new() -> None:
    # All 50,000 entries name the same link: the parser reads to the end (freeing each
    # entry as it goes: bench/hostile_listings.py shows the memory) and finds one link.
    entry = b"<item><title>Same</title><link>https://example.com/a/same-story-again</link></item>"
    content = b'<rss version="2.0"><channel>' + entry * BIG_FEED_ENTRIES + b"</channel></rss>"
    links = discover_links("rss", content, "https://example.com/feed", limit=100)
    assert [link.url for link in links] == ["https://example.com/a/same-story-again"]
