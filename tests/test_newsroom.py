"""The local newsroom: sample data, pages, feeds, conditional GET, misbehaviour, extraction."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import feedparser
import httpx
import lxml.etree
import lxml.html
import pytest
import trafilatura

from newswatch.newsroom import (
    ArticleFormatError,
    Newsroom,
    SampleArticle,
    load_later_articles,
    load_sample_articles,
    parse_article,
)
from newswatch.newsroom.pages import CHROME_MARKERS

ARTICLES = load_sample_articles()
LATER = load_later_articles()
WATCHES = {"ip_theft", "trade_deal"}
ORIGINAL_OF_COPY = next(a.syndicated_from for a in ARTICLES if a.syndicated_from)


@pytest.fixture(scope="module")
def room() -> Iterator[Newsroom]:
    """A shared, unmodified newsroom (tests that change the site start their own)."""
    with Newsroom() as r:
        yield r


@pytest.fixture(scope="module")
def full_room() -> Iterator[Newsroom]:
    """The sample articles plus the held-back ones."""
    with Newsroom([*ARTICLES, *LATER]) as r:
        yield r


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def _norm(text: str) -> str:
    return " ".join(text.split())


# -- the sample data ----------------------------------------------------------------------


def test_sample_set_has_the_promised_mix() -> None:
    assert len(ARTICLES) >= 18
    slugs = [a.slug for a in ARTICLES]
    assert len(set(slugs)) == len(slugs)
    assert len({a.title for a in ARTICLES}) == len(ARTICLES)
    originals = [a for a in ARTICLES if not a.is_syndicated]
    ip = [a for a in originals if a.expect == ["ip_theft"]]
    trade = [a for a in originals if "trade_deal" in a.expect]
    both = [a for a in originals if set(a.expect) == WATCHES]
    near_misses = [a for a in ARTICLES if a.is_near_miss]
    assert len(ip) >= 5
    assert len(trade) >= 5
    assert len(both) >= 1
    assert len(near_misses) >= 6
    assert all(set(a.expect) <= WATCHES for a in ARTICLES + LATER)
    assert sorted(ARTICLES, key=lambda a: a.published, reverse=True) == ARTICLES


@pytest.mark.parametrize("article", ARTICLES + LATER, ids=lambda a: a.slug)
def test_each_article_reads_like_a_wire_story(article: SampleArticle) -> None:
    assert 350 <= article.word_count <= 700
    assert 5 <= len(article.body) <= 10
    assert article.published.utcoffset() is not None
    assert article.summary and article.author and article.section and article.outlet


def test_exactly_one_syndicated_copy_of_an_ip_theft_story() -> None:
    copies = [a for a in ARTICLES if a.is_syndicated]
    assert len(copies) == 1
    copy = copies[0]
    original = next(a for a in ARTICLES if a.slug == copy.syndicated_from)
    assert "ip_theft" in original.expect and copy.expect == original.expect
    assert copy.body[:-1] == original.body
    added = copy.body[-1]
    assert added.startswith("This story was first published by") and added.count(".") == 1
    assert copy.outlet != original.outlet
    assert copy.slug != original.slug and copy.path != original.path
    assert copy.byline_text != original.byline_text
    assert copy.dateline != original.dateline
    assert copy.story_key == original.story_key


def test_later_articles_are_held_back() -> None:
    slugs = {a.slug for a in ARTICLES}
    assert LATER and not slugs & {a.slug for a in LATER}
    story = next(a.story_key for a in ARTICLES if a.slug == ORIGINAL_OF_COPY)
    follow_up = [a for a in LATER if a.story_key == story]
    assert follow_up, "a later development of the syndicated story"
    assert all(a.published > max(x.published for x in ARTICLES) for a in LATER)


def test_chrome_markers_never_occur_in_article_text() -> None:
    for article in ARTICLES + LATER:
        for marker in CHROME_MARKERS:
            assert marker not in article.text, (article.slug, marker)


def test_parse_article_round_trip_and_errors() -> None:
    good = """+++
slug = "a-story"
title = "A story"
author = "A. Writer"
published = 2026-11-01T09:00:00+02:00
section = "Trade"
outlet = "Somewhere Times"
expect = ["trade_deal"]
+++

First paragraph
wrapped over two lines.

Second paragraph.
"""
    article = parse_article(good)
    assert article.body == ["First paragraph wrapped over two lines.", "Second paragraph."]
    assert article.expect == ["trade_deal"] and article.published.utcoffset() is not None

    with pytest.raises(ArticleFormatError, match="line 1"):
        parse_article("slug = 'x'\n")
    with pytest.raises(ArticleFormatError, match="missing field"):
        parse_article(good.replace('author = "A. Writer"\n', ""))
    with pytest.raises(ArticleFormatError, match="time zone"):
        parse_article(good.replace("09:00:00+02:00", "09:00:00"))
    with pytest.raises(ArticleFormatError, match="unknown field"):
        parse_article(good.replace("+++\n\n", 'colour = "red"\n+++\n\n', 1))
    with pytest.raises(ArticleFormatError, match="never closed"):
        parse_article(good.replace("+++\n\nFirst", "\nFirst"))


# -- serving ------------------------------------------------------------------------------


def test_urls_are_loopback_with_a_real_port(room: Newsroom) -> None:
    assert room.base_url.startswith("http://127.0.0.1:") and room.port > 0
    assert room.feed_url == room.base_url + "/feed.xml"
    assert room.atom_url == room.base_url + "/atom.xml"
    assert room.sitemap_url == room.base_url + "/sitemap.xml"
    assert room.index_url == room.base_url + "/news/"
    with socket.create_connection(("127.0.0.1", room.port), timeout=5):
        pass


def test_rss_feed_lists_every_article_newest_first(room: Newsroom, client: httpx.Client) -> None:
    response = client.get(room.feed_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    links = [e.link for e in feed.entries]
    assert links == [room.url_for(a) for a in ARTICLES]
    for entry, article in zip(feed.entries, ARTICLES, strict=True):
        assert entry.title == article.title
        assert entry.id == room.url_for(article)
        assert entry.summary == article.summary
        assert entry.author == article.author
        published = parsedate_to_datetime(entry.published)
        assert published == article.published


def test_atom_feed_lists_every_article(room: Newsroom, client: httpx.Client) -> None:
    response = client.get(room.atom_url)
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo and feed.version == "atom10"
    assert [e.link for e in feed.entries] == [room.url_for(a) for a in ARTICLES]
    assert all(e.published_parsed and e.updated_parsed for e in feed.entries)


def test_news_sitemap_lists_every_article(room: Newsroom, client: httpx.Client) -> None:
    response = client.get(room.sitemap_url)
    assert response.status_code == 200
    root = lxml.etree.fromstring(response.content)
    ns = {
        "s": "http://www.sitemaps.org/schemas/sitemap/0.9",
        "news": "http://www.google.com/schemas/sitemap-news/0.9",
    }
    locs = root.xpath("//s:url/s:loc/text()", namespaces=ns)
    assert locs == [room.url_for(a) for a in ARTICLES]
    titles = root.xpath("//news:news/news:title/text()", namespaces=ns)
    assert titles == [a.title for a in ARTICLES]
    dates = root.xpath("//news:publication_date/text()", namespaces=ns)
    assert [datetime.fromisoformat(d) for d in dates] == [a.published for a in ARTICLES]
    names = root.xpath("//news:publication/news:name/text()", namespaces=ns)
    assert names == [a.outlet for a in ARTICLES]


def test_index_page_links_every_article_amid_chrome(room: Newsroom, client: httpx.Client) -> None:
    response = client.get(room.index_url)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    doc = lxml.html.fromstring(response.content, base_url=room.index_url)
    doc.make_links_absolute()
    hrefs = [a.get("href") for a in doc.iter("a")]
    article_links = {h for h in hrefs if "/articles/" in h}
    assert article_links == {room.url_for(a) for a in ARTICLES}
    assert len([h for h in hrefs if h not in article_links]) >= 20  # nav, footer, social
    assert client.get(room.base_url + "/news").status_code == 301


def test_robots_allows_everything(room: Newsroom, client: httpx.Client) -> None:
    response = client.get(room.base_url + "/robots.txt")
    assert response.status_code == 200
    assert "User-agent: *" in response.text and "Allow: /" in response.text
    assert "Disallow" not in response.text
    assert f"Sitemap: {room.sitemap_url}" in response.text


def test_unknown_path_is_404_with_an_html_page(room: Newsroom, client: httpx.Client) -> None:
    response = client.get(room.base_url + "/articles/no-such-story")
    assert response.status_code == 404 and "<h1>404 Not Found</h1>" in response.text


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a.slug)
def test_article_page_metadata(
    room: Newsroom, client: httpx.Client, article: SampleArticle
) -> None:
    response = client.get(room.url_for(article))
    assert response.status_code == 200
    doc = lxml.html.fromstring(response.content)

    def meta(attr: str, name: str) -> str:
        values = doc.xpath(f'//meta[@{attr}="{name}"]/@content')
        assert len(values) == 1, name
        return str(values[0])

    assert doc.get("lang") == "en"
    assert doc.findtext(".//title") == f"{article.title} | {article.outlet}"
    assert meta("name", "author") == article.author
    assert meta("property", "og:title") == article.title
    assert meta("property", "og:site_name") == article.outlet
    published = datetime.fromisoformat(meta("property", "article:published_time"))
    assert published == article.published
    assert doc.xpath('//link[@rel="canonical"]/@href') == [room.url_for(article)]
    (ld_text,) = doc.xpath('//script[@type="application/ld+json"]/text()')
    ld = json.loads(ld_text)
    assert ld["@type"] == "NewsArticle" and ld["headline"] == article.title
    assert ld["author"][0]["name"] == article.author
    assert datetime.fromisoformat(ld["datePublished"]) == article.published
    (h1,) = doc.xpath("//article//h1")
    assert h1.text_content() == article.title
    body = [_norm(p.text_content()) for p in doc.xpath('//article//div[@class="article-body"]/p')]
    assert body[1:] == [_norm(p) for p in article.body[1:]]
    page_text = doc.text_content()
    for marker in CHROME_MARKERS:
        assert marker in page_text, marker  # the chrome really is there to strip


@pytest.mark.parametrize("article", ARTICLES + LATER, ids=lambda a: a.slug)
def test_trafilatura_keeps_the_story_and_drops_the_chrome(
    full_room: Newsroom, client: httpx.Client, article: SampleArticle
) -> None:
    html = client.get(full_room.url_for(article)).text
    text = trafilatura.extract(html, favor_precision=True)
    assert text
    flat = _norm(text)
    for paragraph in article.body:
        assert _norm(paragraph) in flat
    for marker in CHROME_MARKERS:
        assert marker not in text, marker
    doc = lxml.html.fromstring(html)
    chrome_headlines = doc.xpath('//aside//a[contains(@href, "/articles/")]/text()')
    assert len(chrome_headlines) >= 8  # "What's hot" + "Related stories"
    for headline in chrome_headlines:
        assert headline not in text, headline


# -- conditional GET, changes, misbehaviour -----------------------------------------------


def test_conditional_get_answers_304(room: Newsroom, client: httpx.Client) -> None:
    for url in (
        room.feed_url,
        room.atom_url,
        room.sitemap_url,
        room.index_url,
        room.url_for(ARTICLES[0]),
    ):
        first = client.get(url)
        etag, last_modified = first.headers["etag"], first.headers["last-modified"]
        assert etag.startswith('"') and not etag.startswith("W/")
        assert client.get(url).headers["etag"] == etag  # stable

        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag

        weak = client.get(url, headers={"If-None-Match": f'"nope", W/{etag}'})
        assert weak.status_code == 304
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200

        since = client.get(url, headers={"If-Modified-Since": last_modified})
        assert since.status_code == 304 and since.content == b""
        older = format_datetime(
            parsedate_to_datetime(last_modified).replace(year=2000), usegmt=True
        )
        assert client.get(url, headers={"If-Modified-Since": older}).status_code == 200
        # If-None-Match wins over If-Modified-Since
        both = client.get(
            url, headers={"If-None-Match": '"other"', "If-Modified-Since": last_modified}
        )
        assert both.status_code == 200

    head = client.head(room.feed_url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(client.get(room.feed_url).content)


def test_article_last_modified_is_its_publication_time(
    room: Newsroom, client: httpx.Client
) -> None:
    article = ARTICLES[3]
    response = client.get(room.url_for(article))
    assert parsedate_to_datetime(response.headers["last-modified"]) == article.published


def test_publish_changes_the_listings(client: httpx.Client) -> None:
    with Newsroom() as site:
        before = {
            url: client.get(url)
            for url in (site.feed_url, site.atom_url, site.sitemap_url, site.index_url)
        }
        new = LATER[0]
        url = site.publish(new)
        assert url == site.url_for(new)
        for listing, old in before.items():
            fresh = client.get(listing, headers={"If-None-Match": old.headers["etag"]})
            assert fresh.status_code == 200, listing
            assert fresh.headers["etag"] != old.headers["etag"]
            old_lm = parsedate_to_datetime(old.headers["last-modified"])
            assert parsedate_to_datetime(fresh.headers["last-modified"]) > old_lm
            by_date = client.get(
                listing, headers={"If-Modified-Since": old.headers["last-modified"]}
            )
            assert by_date.status_code == 200
        feed = feedparser.parse(client.get(site.feed_url).content)
        assert feed.entries[0].link == site.url_for(new)
        assert len(feed.entries) == len(ARTICLES) + 1
        assert client.get(url).status_code == 200

        site.unpublish(new.slug)
        assert client.get(url).status_code == 404
        assert len(feedparser.parse(client.get(site.feed_url).content).entries) == len(ARTICLES)


def test_failure_injection(client: httpx.Client) -> None:
    with Newsroom() as site:
        site.set_failure("/feed.xml", 500)
        failed = client.get(site.feed_url)
        assert failed.status_code == 500 and "Internal Server Error" in failed.text
        assert (
            client.get(site.feed_url, headers={"If-None-Match": failed.headers["etag"]}).status_code
            == 500
        )
        site.clear_failure("/feed.xml")
        assert client.get(site.feed_url).status_code == 200

        article_url = site.url_for(ARTICLES[0])
        site.set_failure(article_url, 404)  # a full URL works too
        assert client.get(article_url).status_code == 404
        assert client.get(site.url_for(ARTICLES[1])).status_code == 200

        site.set_failure("/atom.xml", 503, times=2)
        assert [client.get(site.atom_url).status_code for _ in range(3)] == [503, 503, 200]

        site.set_failure("/sitemap.xml", 429, headers={"Retry-After": "2"})
        limited = client.get(site.sitemap_url)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"

        site.set_failure("/feed.xml", 200, body=b"<rss><channel><item><title>broken")
        broken = client.get(site.feed_url)
        assert broken.status_code == 200 and broken.headers["content-type"].startswith(
            "application/rss"
        )
        assert feedparser.parse(broken.content).bozo

        site.clear_failure()
        for url in (site.feed_url, site.atom_url, site.sitemap_url, article_url):
            assert client.get(url).status_code == 200


def test_delay(client: httpx.Client) -> None:
    with Newsroom() as site:
        site.set_delay("/feed.xml", 0.3)
        start = time.monotonic()
        assert client.get(site.feed_url).status_code == 200
        assert time.monotonic() - start >= 0.3
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(site.feed_url, timeout=0.1)
        site.clear_delay("/feed.xml")
        start = time.monotonic()
        client.get(site.feed_url)
        assert time.monotonic() - start < 0.3


def test_request_log_and_counters(client: httpx.Client) -> None:
    with Newsroom() as site:
        client.get(site.feed_url)
        feed_etag = client.get(site.feed_url).headers["etag"]
        client.get(site.feed_url, headers={"If-None-Match": feed_etag})
        first, second = (site.url_for(a) for a in ARTICLES[:2])
        client.get(first)
        client.get(second + "?utm_source=rss")
        client.get(first, headers={"If-None-Match": client.get(first).headers["etag"]})
        log = site.requests
        assert log[0] == ("GET", "/feed.xml", 200)
        assert log[2] == ("GET", "/feed.xml", 304)
        assert ("GET", f"/articles/{ARTICLES[1].slug}?utm_source=rss", 200) in log
        assert site.hits("/feed.xml") == 3 and site.hits("/feed.xml", status=304) == 1
        assert site.hits(second) == 1  # query strings ignored
        assert site.article_hits() == 4
        assert site.article_hits(status=200) == 3 and site.article_hits(status=304) == 1
        site.clear_requests()
        assert site.requests == [] and site.article_hits() == 0
        client.get(site.feed_url)
        assert site.article_hits() == 0  # "the second run fetched no article pages"


def test_concurrent_requests_are_all_logged() -> None:
    with Newsroom() as site:
        urls = [site.url_for(a) for a in ARTICLES] * 3
        statuses: list[int] = []
        lock = threading.Lock()

        def fetch(url: str) -> None:
            code = httpx.get(url, timeout=10).status_code
            with lock:
                statuses.append(code)

        threads = [threading.Thread(target=fetch, args=(u,)) for u in urls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200] * len(urls)
        assert site.article_hits(status=200) == len(urls) == len(site.requests)


def test_other_methods_are_refused(room: Newsroom, client: httpx.Client) -> None:
    response = client.post(room.feed_url, content=b"x=1")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


def test_stops_cleanly_even_with_kept_alive_connections() -> None:
    site = Newsroom()
    with site, httpx.Client(timeout=5) as client:
        port = site.port
        assert client.get(site.feed_url).status_code == 200  # connection now kept alive
        site.set_delay("/atom.xml", 30)
        waiter = threading.Thread(target=lambda: _quiet_get(site.atom_url), daemon=True)
        waiter.start()
        time.sleep(0.1)
        start = time.monotonic()
    assert time.monotonic() - start < 3
    assert not site.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError):
        _ = site.base_url
    assert not any(t.name == f"newsroom-{port}" for t in threading.enumerate())


def _quiet_get(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=10)


def test_duplicate_slugs_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Newsroom([ARTICLES[0], ARTICLES[0]])


def test_runs_in_the_foreground_until_ctrl_c() -> None:
    root = Path(__file__).parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "newswatch.newsroom"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        feed_line = next(line for line in lines if line.strip().startswith("RSS"))
        feed_url = feed_line.split()[-1]
        assert feed_url.startswith("http://127.0.0.1:")
        assert httpx.get(feed_url, timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
