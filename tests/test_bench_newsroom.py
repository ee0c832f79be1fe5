"""The benchmark newsroom: unique article URLs and texts, conditional GETs answered with 304."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bench.newsroom import DEFAULT_HTML_DIR, BenchNewsroom, feed_articles, vary
from classifiers.fingerprint import hamming, simhash, text_hash
from extractors.extract import extract_article
from extractors.links import discover_links

pytestmark = pytest.mark.skipif(
    not DEFAULT_HTML_DIR.is_dir(), reason="../shared/eval/extraction is absent"
)


@pytest.fixture(scope="module")
def room() -> Iterator[BenchNewsroom]:
    with BenchNewsroom(articles=400, feeds=3) as newsroom:
        yield newsroom


def test_feeds_split_the_articles_evenly() -> None:
    spans = [feed_articles(f, 3, 400) for f in range(3)]
    assert [len(s) for s in spans] == [134, 133, 133]
    assert sorted(n for s in spans for n in s) == list(range(400))


def test_variants_differ_in_word_order_only() -> None:
    words = "ministers signed the trade deal after long talks over steel quotas and tariffs"
    html = f"<html><head><title>Trade deal</title></head><body><p>{words}. {words}.</p>"
    html += "<script>var keep = 'this script untouched';</script></body></html>"
    first, second = vary(html, 1), vary(html, 2)
    assert first != second and first != html
    assert "<script>var keep = 'this script untouched';</script>" in first
    assert first.count("<") == html.count("<")  # tags untouched
    assert sorted(re.findall(r"\w+", first)) == sorted(re.findall(r"\w+", html))


def test_feeds_list_every_article_once(room: BenchNewsroom) -> None:
    urls: list[str] = []
    for feed in room.feed_urls:
        response = httpx.get(feed)
        assert response.status_code == 200
        urls += [link.url for link in discover_links("rss", response.content, feed, limit=1000)]
    assert len(urls) == len(set(urls)) == 400


def test_conditional_get_answers_304(room: BenchNewsroom) -> None:
    for url in (room.feed_urls[0], room.article_url(7)):
        first = httpx.get(url)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert httpx.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    stats = room.stats()
    assert stats["feed_304"] >= 2 and stats["page_304"] >= 2


def test_copies_of_one_page_are_distinct_articles(room: BenchNewsroom) -> None:
    # Articles 5 and 186 are the same real page (181 pages, cycled).
    fetched = datetime(2026, 1, 6, tzinfo=UTC)
    a, b = (
        extract_article(
            httpx.get(room.article_url(n)).content,
            url=room.article_url(n),
            source="bench",
            fetched_at=fetched,
        )
        for n in (5, 186)
    )
    assert a.canonical_url == room.article_url(5) and b.canonical_url == room.article_url(186)
    assert text_hash(a.text) != text_hash(b.text)
    assert hamming(simhash(a.text), simhash(b.text)) > 12  # not near-duplicates either
    assert abs(len(a.text) - len(b.text)) < 0.1 * len(a.text)
