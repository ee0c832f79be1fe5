"""Backoff, Retry-After and robots.txt verdicts, as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from extractors.errors import FetchError, RobotsUnreachable
from extractors.politeness import backoff_delay, parse_retry_after
from extractors.robots import RobotsVerdict, product_token


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 01 May 2024 08:01:30 GMT", 90.0),
        ("Wed, 01 May 2024 07:00:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # not delta-seconds
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, (low, high) in enumerate([(0.5, 1), (1, 2), (2, 4), (4, 8), (5, 10), (5, 10)]):
        delays = [backoff_delay(attempt, base=1.0, cap=10.0, rng=rng) for _ in range(200)]
        assert all(low <= d <= high for d in delays)
        assert max(delays) - min(delays) > (high - low) / 2  # jittered, not fixed


def test_robots_verdicts() -> None:
    rules = RobotsVerdict.parse(
        b"\xef\xbb\xbfUser-agent: newswatch\nDisallow: /private/\nCrawl-delay: 2\n\n"
        b"User-agent: *\nDisallow: /\n"
    )
    assert rules.refusal("https://x.example/news/a", "newswatch") is None
    assert rules.refusal("https://x.example/private/a", "newswatch") == (
        "disallowed by robots.txt for 'newswatch'"
    )
    assert rules.refusal("https://x.example/news/a", "otherbot") is not None
    assert rules.crawl_delay("newswatch") == 2.0
    assert RobotsVerdict().refusal("https://x.example/anything", "newswatch") is None
    down = FetchError("https://x.example/robots.txt", "HTTP 503", "http_status", status=503)
    reason = RobotsVerdict(unreachable=down).refusal("https://x.example/a", "newswatch")
    assert reason is not None and reason.startswith("HTTP 503 (robots.txt unreachable")


def test_product_token() -> None:
    assert product_token("newswatch/0.1 (+https://example.org)") == "newswatch"
    assert product_token("  My_Bot-2/1.0") == "my_bot-2"
    assert product_token("(weird)") == "*"


def test_fetch_errors_survive_pickling() -> None:
    import pickle

    error = RobotsUnreachable(
        "https://x.example/a", "HTTP 429", "http_status", status=429, retry_after=30.0
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.url, copy.reason, copy.kind, copy.status, copy.retry_after) == (
        "https://x.example/a",
        "HTTP 429",
        "http_status",
        429,
        30.0,
    )
    assert str(copy) == "HTTP 429 (https://x.example/a)"
