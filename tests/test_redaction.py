"""Artifact text: page-derived strings stay text, secrets never reach the Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.render_markdown import md_escape as md_text
from alerts.render_markdown import md_url
from flows.artifacts import new_stories_markdown, summary_rows, warning_line
from flows.pipeline import RunSummary, SourceOutcome
from flows.redaction import md_link, scrub, settings_secrets
from newswatch.config import load_settings
from storage.models import Alert, Article, MatchRow


def test_a_title_cannot_inject_links_or_html() -> None:
    title = "<img src=x onerror=alert(1)> [click](http://evil.example) **bold** www.evil.example"
    text = md_text(title)
    assert "<" not in text and ">" not in text
    assert "](" not in text and "**" not in text and "www.evil" not in text
    assert "http://" not in text
    assert md_link("Chip\nthief [x](y) <b>\\", "https://news.example/a(1)") == (
        "[Chip thief (x)(y) ‹b›](https://news.example/a%281%29)"
    )


def test_only_http_urls_become_links() -> None:
    assert md_url("javascript:alert(1)") is None
    assert md_url("data:text/html,x") is None
    assert md_link("t", "javascript:alert(1)") == "t"


def test_secrets_are_scrubbed() -> None:
    assert scrub("GET https://u:pw@host/x?token=abc&page=2") == (
        "GET https://****@host/x?token=****&page=2"
    )
    assert scrub("posted to https://hooks.slack.com/services/T/B/X", ["/services/T/B/X"]) == (
        "posted to https://hooks.slack.com****"
    )


def test_settings_secrets_cover_channels_env_and_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NW_TEST_PW", "env-password")
    monkeypatch.setenv("NW_TEST_BOT", "xoxb-env-bot-token")
    config = tmp_path / "nw.toml"
    config.write_text(
        'database_url = "postgresql+psycopg://nw:db-pass@127.0.0.1/nw"\n'
        "[channels.slack]\n"
        'type = "slack"\n'
        'webhook_url = "https://hooks.slack.com/s/T/B/C"\n'
        "[channels.mail]\n"
        'type = "email"\n'
        'host = "smtp.example.org"\n'
        'username = "u"\n'
        'password_env = "NW_TEST_PW"\n'
        'sender = "a@example.org"\n'
        'recipients = ["b@example.org"]\n'
        "[channels.bot]\n"
        'type = "slack_bot"\n'
        'channel = "C1"\n'
        'token = "xoxb-file-bot-token"\n'
        "[channels.bot2]\n"
        'type = "slack_bot"\n'
        'channel = "C1"\n'
        'token_env = "NW_TEST_BOT"\n'
    )
    secrets = set(settings_secrets(load_settings(config)))
    assert {"https://hooks.slack.com/s/T/B/C", "env-password", "db-pass"} <= secrets
    assert {"xoxb-file-bot-token", "xoxb-env-bot-token"} <= secrets  # bot tokens too


def _alert(title: str, url: str) -> Alert:
    article = Article(
        title=title, url=url, source="src", sitename="<b>Outlet</b>", canonical_url=url
    )
    article.matches = [
        MatchRow(
            watch="ip_theft",
            score=7.5,
            threshold=4.0,
            terms=["trade secrets"],
            evidence=[{"sentence": "He stole [trade secrets](http://evil.example).", "terms": []}],
        )
    ]
    alert = Alert(id=3, kind="new_story", watches=["ip_theft"])
    alert.article = article
    return alert


def test_new_stories_markdown_escapes_every_page_string() -> None:
    text = new_stories_markdown([_alert("<script>x</script> [a](b)", "https://n.example/s")])
    assert "<script>" not in text and "<b>" not in text
    assert "[trade secrets](http" not in text
    assert "## [‹script›x‹/script› (a)(b)](https://n.example/s)" in text
    assert "score 7.50 (threshold 4.00)" in text
    assert new_stories_markdown([]).startswith("# New stories\n\nNo new story")


def test_summary_rows_and_warning_line() -> None:
    summary = RunSummary(started_at=datetime.now(UTC))
    summary.add_source(SourceOutcome(name="ok", status="ok", links_found=3, new_links=2), {})
    bad = SourceOutcome.failed("bad", "GET https://x.example/f?key=k1 timed out", "timeout")
    summary.add_source(bad, {})
    rows = summary_rows(summary)
    assert [r["source"] for r in rows] == ["bad", "ok"]
    assert rows[0]["reason"] == "timeout: GET https://x.example/f?key=**** timed out"
    assert warning_line(summary) == "1 of 2 sources failed: bad (timeout)"
