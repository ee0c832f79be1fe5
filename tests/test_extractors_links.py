from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from extractors.links import (
    LinkDiscoveryError,
    discover_links,
    parse_sitemap,
    parse_w3c_datetime,
)

FIXTURES = Path(__file__).parent / "fixtures" / "extractors"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_rss2_feed() -> None:
    links = discover_links("rss", fixture("rss2.xml"), "https://news.portside.example/feed")
    assert [link.url for link in links] == [
        "https://news.portside.example/security/2024/05/02/turbine-maker-blade-designs",
        # relative link resolved, fragment dropped
        "https://news.portside.example/security/2024/05/01/ransomware-leaks-shipping-manifests",
        # no <link>: the permalink guid
        "https://news.portside.example/security/2024/04/30/guid-only-story",
    ]
    first, second, third = links
    assert first.title == "Turbine maker says rival stole blade designs"  # first of duplicates
    assert first.published_at == datetime(2024, 5, 2, 12, 30, tzinfo=UTC)  # +0200 to UTC
    assert second.title == "Ransomware crew leaks shipping manifests"  # whitespace collapsed
    assert second.published_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert third.published_at is None


def test_atom_feed() -> None:
    links = discover_links("atom", fixture("atom.xml"), "https://trade.example.org/feed.atom")
    assert [link.url for link in links] == [
        "https://trade.example.org/policy/2024/06/03/interim-steel-tariff-deal",
        "https://trade.example.org/policy/2024/06/01/customs-union-talks-stall",
    ]
    assert links[0].title == "Ministers sign interim steel tariff deal"  # html title as text
    assert links[0].published_at == datetime(2024, 6, 3, 13, 15, tzinfo=UTC)
    assert links[1].published_at == datetime(2024, 6, 1, 18, 45, tzinfo=UTC)  # updated
    assert all(link.published_at and link.published_at.tzinfo is UTC for link in links)


def test_feed_with_minor_bozo_still_yields_entries() -> None:
    # "&nbsp;" is undefined in XML: feedparser flags the feed but recovers the entries.
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>Tariff&nbsp;talks resume</title>"
        b"<link>https://trade.example.org/a/tariff-talks-resume</link></item>"
        b"</channel></rss>"
    )
    links = discover_links("rss", feed, "https://trade.example.org/feed")
    assert [link.url for link in links] == ["https://trade.example.org/a/tariff-talks-resume"]


def test_empty_but_valid_feed_gives_no_links() -> None:
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
    assert discover_links("rss", feed, "https://example.com/feed") == []


@pytest.mark.parametrize(
    "content",
    [b"<html><body><p>Not a feed</p></body></html>", b"garbage \x00\x01", b""],
)
def test_malformed_feed_raises(content: bytes) -> None:
    with pytest.raises(LinkDiscoveryError, match="not a valid RSS/Atom feed"):
        discover_links("rss", content, "https://example.com/feed")


def test_feed_limit() -> None:
    items = b"".join(
        b"<item><title>t</title><link>https://example.com/a/story-number-%d</link></item>" % i
        for i in range(20)
    )
    feed = b'<rss version="2.0"><channel><title>T</title>' + items + b"</channel></rss>"
    links = discover_links("rss", feed, "https://example.com/feed", limit=5)
    assert [link.url.rsplit("-", 1)[1] for link in links] == ["0", "1", "2", "3", "4"]


def test_google_news_sitemap() -> None:
    links = discover_links("sitemap", fixture("news_sitemap.xml"), "https://www.ledger.example/")
    assert links[0].url == (
        "https://www.ledger.example/business/2024/03/14/chipmaker-engineer-charged-wafer-designs"
    )
    assert links[0].title == "Chipmaker engineer charged with smuggling wafer designs"
    assert links[0].published_at == datetime(2024, 3, 14, 8, 30, tzinfo=UTC)
    # lastmod stands in for the date; tracking query dropped; the duplicate and the
    # javascript: and loc-less entries are gone.
    assert links[1].url == "https://www.ledger.example/world/2024/03/13/ferry-strike-called-off"
    assert links[1].title is None
    assert links[1].published_at == datetime(2024, 3, 13, tzinfo=UTC)
    assert len(links) == 2


def test_gzipped_sitemap() -> None:
    result = parse_sitemap(
        gzip.compress(fixture("news_sitemap.xml")), "https://www.ledger.example/"
    )
    assert len(result.links) == 2


def test_sitemap_index() -> None:
    result = parse_sitemap(fixture("sitemap_index.xml"), "https://www.ledger.example/robots.txt")
    assert result.links == []
    assert result.child_sitemaps == [
        "https://www.ledger.example/sitemaps/news.xml",
        "https://www.ledger.example/sitemaps/2024-03.xml.gz",
        "https://www.ledger.example/sitemaps/2024-02.xml.gz",
    ]
    # discover_links gives article links only; a sitemap index has none.
    assert discover_links("sitemap", fixture("sitemap_index.xml"), "https://x.example/") == []


def test_sitemap_without_namespace() -> None:
    doc = b"<urlset><url><loc>https://example.com/a/some-story-here</loc></url></urlset>"
    assert [link.url for link in parse_sitemap(doc, "https://example.com/").links] == [
        "https://example.com/a/some-story-here"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<urlset><url><loc>https://example.com/a</loc>", "not a valid sitemap"),
        (b"<html><body>hello</body></html>", "root element is <html>"),
        (b"", "not a valid sitemap"),
        (b"\x1f\x8bnot really gzip", "bad gzip data"),
    ],
)
def test_malformed_sitemap_raises(content: bytes, message: str) -> None:
    with pytest.raises(LinkDiscoveryError, match=message):
        parse_sitemap(content, "https://example.com/")


def test_sitemap_external_entities_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("https://example.com/leaked/top-secret-file-contents")
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        "<urlset><url><loc>&xxe;</loc></url>"
        "<url><loc>https://example.com/a/normal-story-here</loc></url></urlset>"
    ).encode()
    with pytest.raises(LinkDiscoveryError, match="declares XML entities") as caught:
        parse_sitemap(doc, "https://example.com/")
    assert "top-secret" not in str(caught.value)


def test_html_index_page() -> None:
    links = discover_links("html_index", fixture("index.html"), "https://www.portside.example/")
    assert [link.url for link in links] == [
        "https://www.portside.example/security/2024/05/02/turbine-maker-says-rival-stole-blade-designs",
        # bare host = same site as www.
        "https://portside.example/security/ransomware-crew-leaks-shipping-manifests",
        # dated path, even with a one-word slug
        "https://www.portside.example/trade/2024/04/30/tariff",
        # numeric id under a section
        "https://www.portside.example/story/98765432",
        # a subdomain of the same site
        "https://data.portside.example/graphics/how-the-leak-spread-across-ports",
    ]
    lead = links[0]
    # headline text wins over "Read more" (same URL once the tracking query is dropped)
    assert lead.title == "Turbine maker says rival stole blade designs"
    assert lead.published_at == datetime(2024, 5, 2, 12, 30, tzinfo=UTC)
    # the image link came first with no text; the headline link fills the title in
    assert links[1].title == "Ransomware crew leaks shipping manifests"
    assert links[2].published_at is None


def test_html_index_limit_and_base_tag() -> None:
    page = (
        b'<html><head><base href="https://example.com/world/"></head><body>'
        + b"".join(b'<a href="story-number-%d-here">Story %d</a>' % (i, i) for i in range(10))
        + b"</body></html>"
    )
    links = discover_links("html_index", page, "https://example.com/", limit=3)
    assert [link.url for link in links] == [
        "https://example.com/world/story-number-0-here",
        "https://example.com/world/story-number-1-here",
        "https://example.com/world/story-number-2-here",
    ]


def test_html_index_empty_document_raises() -> None:
    with pytest.raises(LinkDiscoveryError, match="not an HTML page"):
        discover_links("html_index", b"  ", "https://example.com/")


def test_unknown_kind_raises() -> None:
    with pytest.raises(LinkDiscoveryError, match="unknown source kind 'json'"):
        discover_links("json", b"{}", "https://example.com/")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-14", datetime(2024, 3, 14, tzinfo=UTC)),
        ("2024-03-14T09:30:00+01:00", datetime(2024, 3, 14, 8, 30, tzinfo=UTC)),
        ("2024-03-14T09:30Z", datetime(2024, 3, 14, 9, 30, tzinfo=UTC)),
        ("2024-03-14T09:30:00.250-05:00", datetime(2024, 3, 14, 14, 30, 0, 250000, tzinfo=UTC)),
        ("2024-03-14T09:30:00", datetime(2024, 3, 14, 9, 30, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_parse_w3c_datetime(value: str | None, expected: datetime | None) -> None:
    assert parse_w3c_datetime(value) == expected
