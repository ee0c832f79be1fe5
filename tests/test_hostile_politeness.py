"""Politeness, asserted from what the server saw (its timestamped request log).

Spacing and concurrency are read from the hits' start and end times on the server's clock,
never from how long the test took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from itertools import pairwise

import pytest

from extractors.http import Fetcher, FetchError, FetchPolicy
from newswatch.models import Page
from tests.support.hostile_newsroom import (
    ARTICLE_ETAG,
    Hit,
    HostileNewsroom,
    hostile_policy,
    hostile_run,
)

# Two requests the client starts `delay` apart may reach the server a little closer
# together (one waited for a new connection, the next reused it; the server's handler
# threads share two loaded cores with the client): a millisecond or so when the machine
# is idle, tens of milliseconds under load. One gap may lose that much; the mean gap (the
# span of the starts over their number) loses only what the first and last lose.
CLOCK_SLACK = 0.02
JITTER_SHARE = 0.25


@pytest.fixture
def room() -> Iterator[HostileNewsroom]:
    with HostileNewsroom(slow_s=3.0) as hostile:
        yield hostile


def holds(room: HostileNewsroom, count: int, ms: int = 0) -> list[str]:
    return [room.url(f"/hold?ms={ms}&n={i}") for i in range(count)]


def gaps(hits: list[Hit]) -> list[float]:
    starts = sorted(h.started for h in hits)
    return [b - a for a, b in pairwise(starts)]


def assert_spaced(hits: list[Hit], delay: float) -> None:
    """Request starts, as the server saw them, at least `delay` apart: every gap, up to
    the thread scheduling jitter, and on average, up to CLOCK_SLACK (with no spacing at
    all, the gaps would be a few milliseconds)."""
    found = gaps(hits)
    assert min(found) >= delay * (1 - JITTER_SHARE), found
    assert sum(found) / len(found) >= delay - CLOCK_SLACK, found


def most_at_once(hits: list[Hit]) -> int:
    """The largest number of requests the server was handling at the same moment."""
    events = sorted([(h.started, 1) for h in hits] + [(h.ended, -1) for h in hits])
    current = peak = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def test_request_starts_to_one_host_are_spaced_by_the_minimum_delay(
    room: HostileNewsroom,
) -> None:
    run = hostile_run(hostile_policy(per_host_min_delay_s=0.2), pages=holds(room, 5))
    assert all(isinstance(page, Page) for page in run.pages.values())
    hits = room.hits()  # robots.txt and the five pages, all to one host
    assert [h.path for h in hits].count("/robots.txt") == 1 and len(hits) == 6
    assert_spaced(hits, 0.2)


def test_other_hosts_are_not_held_back_by_one_hosts_delay(room: HostileNewsroom) -> None:
    delay = 0.5
    with HostileNewsroom() as second:
        run = hostile_run(
            hostile_policy(per_host_min_delay_s=delay), pages=[*holds(room, 1), *holds(second, 1)]
        )
        assert all(isinstance(page, Page) for page in run.pages.values())
        (first_page,) = room.hits("/hold")
        (second_page,) = second.hits("/hold")
    # Each site's page comes one delay after its own robots.txt: at about the same time,
    # where one gate for both would have put them a delay apart.
    assert abs(first_page.started - second_page.started) < delay / 2


@pytest.mark.parametrize("concurrency", [1, 2])
def test_per_host_concurrency_is_bounded(room: HostileNewsroom, concurrency: int) -> None:
    run = hostile_run(
        hostile_policy(per_host_concurrency=concurrency), pages=holds(room, 6, ms=150)
    )
    assert all(isinstance(page, Page) for page in run.pages.values())
    assert most_at_once(room.hits("/hold")) == concurrency


def test_robots_crawl_delay_raises_the_spacing(room: HostileNewsroom) -> None:
    room.robots = "User-agent: *\nCrawl-delay: 0.3\n"
    hostile_run(hostile_policy(per_host_min_delay_s=0.0), pages=holds(room, 3))
    assert_spaced(room.hits("/hold"), 0.3)


def test_robots_is_fetched_once_and_its_rules_for_our_token_apply(
    room: HostileNewsroom,
) -> None:
    room.robots = "User-agent: newswatch\nDisallow: /articles/\n\nUser-agent: *\nAllow: /\n"
    urls = [room.url(f"/articles/story-{i}") for i in range(4)] + [room.url("/hold")]
    run = hostile_run(hostile_policy(), pages=urls)
    for url in urls[:4]:
        error = run.pages[url]
        assert isinstance(error, FetchError) and error.kind == "robots"
        assert error.reason == "disallowed by robots.txt for 'newswatch'"
    assert isinstance(run.pages[urls[4]], Page)
    assert [h.path for h in room.hits()] == ["/robots.txt", "/hold"]  # no article requested


def test_robots_disallowing_the_article_path(room: HostileNewsroom) -> None:
    # The default robots.txt forbids /private/ to everyone; the feed lists such a page.
    run = hostile_run(hostile_policy(), sources=[("rss", room.url("/feed.xml"))])
    source = run.sources[room.url("/feed.xml")]
    forbidden = source.pages[room.url("/private/secret-plans-revealed")]
    assert isinstance(forbidden, FetchError) and forbidden.kind == "robots"
    assert room.hits("/private/secret-plans-revealed") == []
    assert len(room.hits("/robots.txt")) == 1
    assert sum(isinstance(page, Page) for page in source.pages.values()) == 3


def test_robots_ignored_when_the_policy_says_so(room: HostileNewsroom) -> None:
    url = room.url("/private/secret-plans-revealed")
    run = hostile_run(hostile_policy(respect_robots=False), pages=[url])
    assert isinstance(run.pages[url], Page)
    assert room.hits("/robots.txt") == []


def test_robots_not_found_allows_everything(room: HostileNewsroom) -> None:
    room.robots = 404
    url = room.url("/private/secret-plans-revealed")
    assert isinstance(hostile_run(hostile_policy(), pages=[url]).pages[url], Page)


def test_robots_unreachable_disallows_the_host_for_the_run(room: HostileNewsroom) -> None:
    room.robots = 503
    urls = [room.url("/articles/a-story"), room.url("/articles/another-story")]
    run = hostile_run(hostile_policy(), pages=urls)
    for url in urls:
        error = run.pages[url]
        assert isinstance(error, FetchError)
        assert (error.kind, error.status) == ("http_status", 503)  # robots.txt's own failure
        assert "robots.txt unreachable" in error.reason
    assert [h.path for h in room.hits()] == ["/robots.txt"] * 3  # retried twice, then cached


def test_user_agent_with_contact_and_encodings_are_sent(room: HostileNewsroom) -> None:
    url = room.url("/articles/a-story")
    hostile_run(hostile_policy(), pages=[url])
    (hit,) = room.hits("/articles/a-story")
    assert hit.headers["user-agent"] == (
        "newswatch/0.1 (+https://github.com/newswatch/newswatch;"
        " +https://newswatch.example/contact)"
    )
    assert hit.headers["accept-encoding"] == "gzip, deflate"
    assert "text/html" in hit.headers["accept"]


def test_conditional_get_gives_not_modified(room: HostileNewsroom) -> None:
    async def scenario() -> tuple[Page, Page]:
        async with Fetcher(hostile_policy()) as fetcher:
            first = await fetcher.get(room.url("/articles/a-story"))
            again = await fetcher.get(
                room.url("/articles/a-story"),
                etag=first.etag,
                last_modified=first.last_modified,
            )
            return first, again

    first, again = asyncio.run(scenario())
    assert first.status == 200 and first.etag == ARTICLE_ETAG
    assert again.not_modified and again.content == b""
    assert room.hits("/articles/a-story")[1].headers["if-none-match"] == ARTICLE_ETAG


def test_a_host_that_keeps_failing_is_given_up_for_the_run(room: HostileNewsroom) -> None:
    policy = hostile_policy(total_timeout_s=0.2, host_failure_limit=2)

    async def scenario() -> list[FetchError]:
        errors = []
        async with Fetcher(policy) as fetcher:
            for path in ("/slow-headers", "/slow-headers", "/articles/a-story"):
                with pytest.raises(FetchError) as caught:
                    await fetcher.get(room.url(path))
                errors.append(caught.value)
        return errors

    first, second, third = asyncio.run(scenario())
    assert first.kind == second.kind == third.kind == "timeout"
    assert third.reason.startswith("skipped: 127.0.0.1:")
    assert "failed 2 fetches in a row in this run" in third.reason
    assert room.hits("/articles/a-story") == []


def test_policy_rejects_negative_settings() -> None:
    with pytest.raises(ValueError, match="per_host_min_delay_s"):
        FetchPolicy(per_host_min_delay_s=-1)
    with pytest.raises(ValueError, match="max_retries"):
        FetchPolicy(max_retries=-1)


def test_contact_url_joins_the_user_agent_comment() -> None:
    assert FetchPolicy(contact_url="mailto:ops@example.org").agent == (
        "newswatch/0.1 (+https://github.com/newswatch/newswatch; +mailto:ops@example.org)"
    )
    assert FetchPolicy(user_agent="bot/1", contact_url="https://x.example").agent == (
        "bot/1 (+https://x.example)"
    )
    assert FetchPolicy().agent == FetchPolicy().user_agent
    assert FetchPolicy(user_agent="NewsWatch-Bot/2.0 (x)").robots_token == "newswatch-bot"
