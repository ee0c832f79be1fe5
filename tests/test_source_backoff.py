"""Back-off across runs: the rule, the source rows that keep it, and how runs report it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from extractors.errors import FetchError
from extractors.links import LinkDiscoveryError
from extractors.source_backoff import MAX_RETRY_AFTER_S, failure_backoff_s, is_due, next_poll_at
from flows.backoff import due_sources, failure_backoff
from flows.pipeline import RunSummary, SourceOutcome
from newswatch.config import HttpConfig, SourceConfig, load_settings
from newswatch.tables import sources_table, summary_table
from storage import repo
from storage.db import Database

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASE, CAP = 900.0, 21_600.0


# --- the rule ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(failures=st.integers(min_value=1, max_value=10_000), seed=st.integers())
def test_backoff_doubles_per_failure_with_jitter_up_to_the_cap(failures: int, seed: int) -> None:
    wait = failure_backoff_s(failures, base_s=BASE, max_s=CAP, rng=random.Random(seed))
    full = min(CAP, BASE * 2 ** min(failures - 1, 62))
    assert full / 2 <= wait <= full  # "equal jitter": half fixed, half random


def test_backoff_schedule_from_one_failure_to_the_cap() -> None:
    rng = random.Random(1)
    # minutes after 1, 2, ... failures in a row; from the 6th on, the cap (6 h) holds
    expected = [(7.5, 15), (15, 30), (30, 60), (60, 120), (120, 240), (180, 360), (180, 360)]
    for failures, (low, high) in enumerate(expected, start=1):
        wait = failure_backoff_s(failures, base_s=BASE, max_s=CAP, rng=rng) / 60
        assert low <= wait <= high, failures


def test_no_failure_means_no_wait_and_a_zero_base_turns_backoff_off() -> None:
    assert failure_backoff_s(0, base_s=BASE, max_s=CAP) == 0.0
    assert failure_backoff_s(5, base_s=0, max_s=CAP) == 0.0


def test_a_long_retry_after_is_honoured_but_bounded() -> None:
    asked = failure_backoff_s(1, base_s=BASE, max_s=CAP, retry_after_s=3600)
    assert asked == 3600  # longer than the 7.5-15 min a first failure waits
    assert failure_backoff_s(6, base_s=BASE, max_s=CAP, retry_after_s=60) >= CAP / 2
    forever = failure_backoff_s(1, base_s=BASE, max_s=CAP, retry_after_s=10 * 365 * 86400)
    assert forever == MAX_RETRY_AFTER_S


def test_due_means_no_backoff_or_backoff_over() -> None:
    assert is_due(None, NOW)
    assert is_due(NOW, NOW)
    assert not is_due(NOW + timedelta(seconds=1), NOW)
    assert next_poll_at(1, NOW, base_s=60, max_s=60, rng=random.Random(0)) > NOW


# --- source rows (SQLite, and PostgreSQL where configured) --------------------------------------


def _every_15_minutes(failures: int, at: datetime) -> datetime:
    return at + timedelta(minutes=15 * failures)


def test_failures_schedule_the_next_poll_and_a_success_resets_it(db: Database) -> None:
    with db.session() as session:
        repo.sync_source(session, "feed", "rss", "https://news.example/feed", True)
        for _ in range(2):
            row = repo.record_poll(
                session,
                "feed",
                status="failed",
                polled_at=NOW,
                error="HTTP 503 (https://news.example/feed)",
                error_kind="http_status",
                backoff=_every_15_minutes,
            )
        assert row is not None
        assert (row.consecutive_failures, row.last_error_kind) == (2, "http_status")
        assert row.next_poll_at == NOW + timedelta(minutes=30)
    with db.session() as session:
        # a skipped source was not polled: nothing about it changes
        repo.record_poll(session, "feed", status="skipped", polled_at=NOW + timedelta(hours=1))
        row = repo.get_source(session, "feed")
        assert row is not None and row.last_polled_at == NOW and row.consecutive_failures == 2
        repo.record_poll(session, "feed", status="not_modified", polled_at=NOW)
        assert (row.consecutive_failures, row.next_poll_at, row.last_error_kind) == (0, None, None)


def test_a_new_url_in_the_config_ends_the_backoff(db: Database) -> None:
    with db.session() as session:
        repo.sync_source(session, "feed", "rss", "https://news.example/feed", True)
        repo.record_poll(
            session,
            "feed",
            status="failed",
            polled_at=NOW,
            error="x",
            error_kind="parse",
            backoff=_every_15_minutes,
        )
        row = repo.sync_source(session, "feed", "rss", "https://news.example/feed.xml", True)
        assert (row.consecutive_failures, row.next_poll_at) == (0, None)


def _sources(*names: str) -> list[SourceConfig]:
    return [SourceConfig(name=n, kind="rss", url=f"https://{n}.example/feed") for n in names]


def test_due_sources_skips_those_backing_off_unless_forced(db: Database) -> None:
    sources = _sources("healthy", "failing", "new")
    with db.session() as session:
        for source in sources[:2]:
            repo.sync_source(session, source.name, "rss", source.url, True)
        repo.record_poll(session, "healthy", status="ok", polled_at=NOW)
        repo.record_poll(
            session,
            "failing",
            status="failed",
            polled_at=NOW,
            error="timed out after 30s (https://failing.example/feed)",
            error_kind="timeout",
            backoff=_every_15_minutes,
        )
    due, waiting = due_sources(db, sources, NOW + timedelta(minutes=5))
    assert [s.name for s in due] == ["healthy", "new"]
    (skipped,) = waiting
    assert (skipped.name, skipped.status, skipped.error_kind) == ("failing", "skipped", "timeout")
    assert skipped.next_poll_at == NOW + timedelta(minutes=15)
    assert skipped.consecutive_failures == 1 and skipped.links_to_fetch == []

    due, waiting = due_sources(db, sources, NOW + timedelta(minutes=5), force=True)
    assert len(due) == 3 and waiting == []
    due, waiting = due_sources(db, sources, NOW + timedelta(minutes=15))  # back-off over
    assert len(due) == 3 and waiting == []


def test_failure_backoff_takes_the_configured_rhythm_and_the_retry_after() -> None:
    http = HttpConfig(failure_backoff_base_s=600, failure_backoff_max_s=3600)
    plain = failure_backoff(SourceOutcome.failed("s", "x", "timeout"), http, random.Random(3))
    assert NOW + timedelta(minutes=5) <= plain(1, NOW) <= NOW + timedelta(minutes=10)
    assert NOW + timedelta(minutes=30) <= plain(9, NOW) <= NOW + timedelta(hours=1)
    limited = SourceOutcome.from_error(
        "s",
        FetchError("https://s.example/", "HTTP 429", "http_status", status=429, retry_after=7200),
    )
    assert failure_backoff(limited, http)(1, NOW) == NOW + timedelta(hours=2)


# --- outcomes and reports -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (
            FetchError("https://a.example/f?k=secret", "timed out after 30s", "timeout"),
            "timeout",
            "timed out after 30s (https://a.example/f?…)",  # the query never shown
        ),
        (
            FetchError("https://a.example/f", "disallowed by robots.txt", "robots"),
            "robots",
            "disallowed by robots.txt (https://a.example/f)",
        ),
        (
            LinkDiscoveryError("not a valid RSS/Atom feed: an HTML page"),
            "parse",
            "not a valid RSS/Atom feed: an HTML page",
        ),
        (KeyError("oops"), "internal", "unexpected error: KeyError('oops')"),
    ],
)
def test_a_failed_poll_keeps_its_reason_and_kind(exc: Exception, kind: str, reason: str) -> None:
    outcome = SourceOutcome.from_error("src", exc)
    assert (outcome.status, outcome.error_kind, outcome.error) == ("failed", kind, reason)


def _summary() -> RunSummary:
    summary = RunSummary(started_at=NOW, finished_at=NOW)
    summary.add_source(SourceOutcome("good", "ok", links_found=3), {"stored": 3})
    failed = SourceOutcome.from_error(
        "slow", FetchError("https://slow.example/feed", "timed out after 30s", "timeout")
    )
    failed.next_poll_at, failed.consecutive_failures = NOW + timedelta(minutes=12), 1
    summary.add_source(failed, {})
    summary.add_source(
        SourceOutcome.backing_off(
            "broken",
            until=NOW + timedelta(hours=2),
            failures=4,
            error="not a valid RSS/Atom feed: an HTML page",
            error_kind="parse",
        ),
        {},
    )
    return summary


def test_the_run_summary_reports_kind_reason_and_next_poll() -> None:
    summary = _summary()
    data = summary.as_dict()
    for row in data["sources"].values():  # the keys every consumer may rely on
        assert {"status", "error", "error_kind", "next_poll_at", "consecutive_failures"} <= set(row)
    assert data["sources"]["slow"]["error_kind"] == "timeout"
    assert data["sources"]["slow"]["next_poll_at"] == "2026-11-20T12:12:00+00:00"
    assert data["sources"]["broken"]["status"] == "skipped"
    assert (data["totals"]["sources_failed"], data["totals"]["sources_skipped"]) == (1, 1)
    assert summary.source_line("slow") == (
        "source slow: FAILED (timeout): timed out after 30s (https://slow.example/feed); "
        "1 failure(s) in a row, next poll after 2026-11-20T12:12:00+00:00"
    )
    assert summary.source_line("broken") == (
        "source broken: backing off until 2026-11-20T14:00:00+00:00 after 4 failure(s) in a "
        "row (last: parse: not a valid RSS/Atom feed: an HTML page)"
    )
    assert "(1 failed, 1 backing off)" in summary.totals_line()


def _render(renderable: object) -> str:
    console = Console(width=250, record=True, color_system=None)
    console.print(renderable)
    return " ".join(console.export_text().replace("│", " ").split())


def test_the_summary_table_lists_failures_with_kind_and_backoffs() -> None:
    text = _render(summary_table(_summary().as_dict()))
    assert "total: 3 sources, 1 failed, 1 backing off" in text
    assert (
        "slow: timeout: timed out after 30s (https://slow.example/feed) "
        "(next poll after 2026-11-20 12:12 UTC)"
    ) in text
    assert (
        "broken: backing off until 2026-11-20 14:00 UTC after 4 failure(s) in a row "
        "(last: parse: not a valid RSS/Atom feed: an HTML page)"
    ) in text


def test_newswatch_sources_shows_failures_kind_and_next_poll(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f'database_url = "{url}"\n'
        '[sources.steady]\nkind = "rss"\nurl = "https://steady.example/feed"\n'
        '[sources.shaky]\nkind = "rss"\nurl = "https://shaky.example/feed"\n',
        encoding="utf-8",
    )
    settings_ = load_settings(config)
    db = Database(url)
    db.create_all()
    later = datetime.now(UTC) + timedelta(hours=3)
    with db.session() as session:
        for name in ("steady", "shaky"):
            repo.sync_source(session, name, "rss", settings_.sources[name].url, True)
        repo.record_poll(session, "steady", status="ok", polled_at=NOW)
        for _ in range(3):
            repo.record_poll(
                session,
                "shaky",
                status="failed",
                polled_at=NOW,
                error="refused: 10.0.0.1 is a private address (https://shaky.example/feed)",
                error_kind="refused",
                backoff=lambda failures, at: later,
            )
    db.dispose()
    text = _render(sources_table(settings_))
    assert "steady rss yes 2026-11-20 12:00 ok 0 next run 0 https://steady.example/feed" in text
    assert (
        f"shaky rss yes 2026-11-20 12:00 failed 3 after {later:%Y-%m-%d %H:%M} 0 refused: "
        "refused: 10.0.0.1 is a private address (https://shaky.example/feed)"
    ) in text
