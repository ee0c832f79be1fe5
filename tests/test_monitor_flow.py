"""End to end: the monitor flow against the local newsroom, under Prefect's test harness.

Real parts throughout: the newsroom HTTP server, a SQLite file, an SMTP server with
STARTTLS and AUTH, and a receiver that speaks Slack's incoming-webhook contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.demo import run_demo
from newswatch.newsroom import Newsroom, SampleArticle, load_later_articles, load_sample_articles
from storage.db import Database
from storage.models import Alert, Article, Delivery, Source
from tests.support.slack_receiver import SlackReceiver
from tests.support.smtp_server import SmtpServer

SMTP_USER, SMTP_PASSWORD = "alerts", "s3cret-pass"


@dataclass
class Scenario:
    newsroom: Newsroom
    slack: SlackReceiver
    smtp: SmtpServer
    db: Database
    config: Path
    runs: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    article_hits: list[int] = field(default_factory=list)
    slack_counts: list[int] = field(default_factory=list)
    mail_counts: list[int] = field(default_factory=list)


def write_config(
    path: Path, newsroom: Newsroom, slack: SlackReceiver, smtp: SmtpServer, db_url: str
) -> None:
    path.write_text(
        f"""\
database_url = "{db_url}"

[http]
allowed_hosts = ["127.0.0.1"]
connect_timeout_s = 2
read_timeout_s = 5

[sources.newsroom]
kind = "rss"
url = "{newsroom.feed_url}"

[sources.unreachable]
kind = "rss"
url = "http://127.0.0.1:9/feed.xml"

[channels.console]
type = "console"

[channels.team_slack]
type = "slack"
webhook_url = "{slack.url}"

[channels.analysts]
type = "email"
host = "{smtp.host}"
port = {smtp.port}
security = "starttls"
username = "{SMTP_USER}"
password = "{SMTP_PASSWORD}"
sender = "newswatch <alerts@newswatch.test>"
recipients = ["analyst@newswatch.test"]
ca_file = "{smtp.ca_file}"
local_hostname = "localhost"
""",
        encoding="utf-8",
    )


def run_once(scenario: Scenario, config: Path) -> None:
    from flows.monitor import monitor

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        scenario.runs.append(asyncio.run(monitor(config_path=str(config))))
    scenario.console.append(out.getvalue())
    scenario.article_hits.append(scenario.newsroom.article_hits())
    scenario.slack_counts.append(len(scenario.slack.payloads))
    scenario.mail_counts.append(len(scenario.smtp.messages))


@pytest.fixture(scope="module")
def scenario(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    tmp = tmp_path_factory.mktemp("e2e")
    db_url = f"sqlite:///{tmp / 'newswatch.db'}"
    with (
        Newsroom() as newsroom,
        SlackReceiver() as slack,
        SmtpServer(username=SMTP_USER, password=SMTP_PASSWORD) as smtp,
    ):
        config = tmp / "newswatch.toml"
        write_config(config, newsroom, slack, smtp, db_url)
        db = Database(db_url)
        scenario = Scenario(newsroom, slack, smtp, db, config)
        run_once(scenario, config)  # 0: first run over the whole newsroom
        run_once(scenario, config)  # 1: nothing changed
        newsroom.publish(_late_article())
        run_once(scenario, config)  # 2: one new article
        newsroom.publish(_development_article())
        run_once(scenario, config)  # 3: a development of the Solvane story
        yield scenario
        db.dispose()


LATE_SLUG = "aldermark-orvane-critical-minerals-agreement"


def _late_article() -> SampleArticle:
    """A brand-new story the newsroom publishes between two runs."""
    return next(a for a in load_later_articles() if a.slug == LATE_SLUG)


DEVELOPMENT_SLUG = "solvane-engineer-pleads-not-guilty"


def _development_article() -> SampleArticle:
    """A follow-up of the Solvane indictment, 17 days later: a development of its storyline."""
    return next(a for a in load_later_articles() if a.slug == DEVELOPMENT_SLUG)


def _stored(db: Database) -> dict[str, Article]:
    with db.session() as session:
        rows = session.scalars(select(Article)).all()
        for row in rows:
            _ = row.matches
        return {row.canonical_url.rsplit("/", 1)[-1]: row for row in rows}


def test_every_sample_article_is_stored_once(scenario: Scenario) -> None:
    samples = load_sample_articles()
    stored = _stored(scenario.db)
    for sample in samples:
        assert sample.slug in stored, f"{sample.slug} was not stored"
    assert scenario.runs[0]["totals"]["stored"] == len(samples)


def test_matches_are_the_expected_watches_with_evidence(scenario: Scenario) -> None:
    stored = _stored(scenario.db)
    for sample in load_sample_articles():
        row = stored[sample.slug]
        assert sorted(m.watch for m in row.matches) == sorted(sample.expect), sample.slug
        for match in row.matches:
            assert match.score >= match.threshold
            assert match.terms, sample.slug
            # Evidence is a sentence of the article, trimmed around its terms when long.
            assert match.evidence
            assert all(e["sentence"].strip("…") in row.text for e in match.evidence)


def test_alerts_only_for_relevant_originals(scenario: Scenario) -> None:
    samples = load_sample_articles()
    relevant = {s.slug for s in samples if s.expect and not s.syndicated_from}
    with scenario.db.session() as session:
        alerted = {
            a.article.canonical_url.rsplit("/", 1)[-1] for a in session.scalars(select(Alert)).all()
        }
    assert alerted == relevant | {LATE_SLUG, DEVELOPMENT_SLUG}


def test_syndicated_copy_joins_the_story_without_a_second_alert(scenario: Scenario) -> None:
    [copy] = [s for s in load_sample_articles() if s.syndicated_from]
    stored = _stored(scenario.db)
    assert stored[copy.slug].duplicate_of_id == stored[copy.syndicated_from].id
    assert stored[copy.slug].story_id == stored[copy.syndicated_from].story_id
    with scenario.db.session() as session:
        alerts = session.scalars(
            select(Alert).where(Alert.story_id == stored[copy.slug].story_id)
        ).all()
    assert len(alerts) == 1


def test_alerts_reach_console_slack_and_email(scenario: Scenario) -> None:
    first_alerts = scenario.runs[0]["totals"]["alerts"]
    assert first_alerts >= 5
    assert scenario.runs[0]["deliveries"] == {"sent": 3 * first_alerts, "retrying": 0, "failed": 0}
    assert scenario.slack_counts[0] == first_alerts
    assert scenario.mail_counts[0] == first_alerts

    ip_story = next(s for s in load_sample_articles() if s.expect == ["ip_theft"])
    # The console panel wraps long headlines: compare its words, not its lines.
    console_words = " ".join(scenario.console[0].replace("│", " ").split())
    assert ip_story.title in console_words

    payload = next(p for p in scenario.slack.payloads if ip_story.title in str(p))
    assert ip_story.title in payload["text"]
    assert any(b.get("type") == "section" for b in payload["blocks"])
    assert "ip_theft" in str(payload["blocks"])

    message = next(m for m in scenario.smtp.messages if ip_story.title in str(m["Subject"]))
    assert message["To"] == "analyst@newswatch.test"
    assert message["Message-ID"] and message["List-Id"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert ip_story.title in text and "ip_theft" in text
    assert "<html" in html.lower() and "ip_theft" in html


def test_deliveries_are_all_sent(scenario: Scenario) -> None:
    with scenario.db.session() as session:
        statuses = {d.status for d in session.scalars(select(Delivery)).all()}
    assert statuses == {"sent"}


def test_unreachable_source_is_reported_and_the_run_goes_on(scenario: Scenario) -> None:
    row = scenario.runs[0]["sources"]["unreachable"]
    assert row["status"] == "failed"
    assert "127.0.0.1:9" in row["error"] or "connect" in row["error"].lower()
    assert scenario.runs[0]["sources"]["newsroom"]["status"] == "ok"
    assert row["error_kind"] == "network" and row["next_poll_at"]
    # Later runs leave it alone while it backs off (the first wait is 7.5-15 minutes).
    assert [run["sources"]["unreachable"]["status"] for run in scenario.runs[1:]] == ["skipped"] * 3
    with scenario.db.session() as session:
        source = session.scalars(select(Source).where(Source.name == "unreachable")).one()
        # One failure, after its retries; the skipped runs did not poll it.
        assert source.consecutive_failures == 1
        assert source.last_status == "failed" and source.last_error_kind == "network"


def test_second_run_fetches_no_page_and_alerts_nothing(scenario: Scenario) -> None:
    second = scenario.runs[1]
    assert second["sources"]["newsroom"]["status"] == "not_modified"
    assert scenario.article_hits[1] == scenario.article_hits[0]
    assert second["totals"]["alerts"] == 0 and second["totals"]["fetched"] == 0
    assert scenario.slack_counts[1] == scenario.slack_counts[0]
    assert scenario.mail_counts[1] == scenario.mail_counts[0]


def test_a_new_article_is_the_only_page_fetched_next_time(scenario: Scenario) -> None:
    third = scenario.runs[2]
    assert third["sources"]["newsroom"]["new_links"] == 1
    assert scenario.article_hits[2] == scenario.article_hits[1] + 1
    assert third["totals"]["alerts"] == 1
    assert scenario.slack_counts[2] == scenario.slack_counts[1] + 1


def test_a_development_alerts_once_with_the_earlier_story(scenario: Scenario) -> None:
    fourth = scenario.runs[3]
    assert fourth["sources"]["newsroom"]["new_links"] == 1
    assert fourth["totals"]["alerts"] == 1 and fourth["totals"]["duplicates"] == 0
    assert scenario.slack_counts[3] == scenario.slack_counts[2] + 1
    assert scenario.mail_counts[3] == scenario.mail_counts[2] + 1
    development = _development_article()
    stored = _stored(scenario.db)
    original = stored["solvane-engineer-charged-chip-designs"]
    assert stored[DEVELOPMENT_SLUG].story_id != original.story_id
    with scenario.db.session() as session:
        alert = session.scalars(
            select(Alert).where(Alert.story_id == stored[DEVELOPMENT_SLUG].story_id)
        ).one()
        assert alert.kind == "development"
        # The original story, with its syndicated copy, still has its one alert.
        assert session.scalars(select(Alert).where(Alert.story_id == original.story_id)).all()

    payload = scenario.slack.payloads[-1]
    assert development.title in payload["text"]
    blocks = str(payload["blocks"])
    assert "Previously in this storyline" in blocks and original.title in blocks
    assert original.canonical_url in blocks
    message = scenario.smtp.messages[-1]
    text = message.get_body(("plain",)).get_content()
    assert development.title in str(message["Subject"])
    assert original.title in " ".join(text.split())
    console = _words(scenario.console[3])
    assert "Previously in this storyline" in console and original.title in console


def _words(text: str) -> str:
    """Terminal output with box drawing and line wrapping undone, for substring checks."""
    return " ".join(text.replace("│", " ").split())


def test_cli_lists_sources_articles_and_alerts(scenario: Scenario) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "250"}
    config = str(scenario.config)

    sources = runner.invoke(app, ["sources", "--config", config], env=env)
    assert sources.exit_code == 0, sources.output
    assert "newsroom" in sources.output and "unreachable" in sources.output
    assert "failed" in sources.output

    ip_only = runner.invoke(app, ["articles", "-c", config, "--watch", "ip_theft"], env=env)
    assert ip_only.exit_code == 0, ip_only.output
    listed = _words(ip_only.output)
    for sample in load_sample_articles():
        assert (sample.title in listed) == ("ip_theft" in sample.expect), sample.slug

    alerts = runner.invoke(app, ["alerts", "-c", config], env=env)
    assert alerts.exit_code == 0 and "sent" in alerts.output
    failed = runner.invoke(app, ["alerts", "-c", config, "--failed"], env=env)
    assert failed.exit_code == 0 and "new_story" not in failed.output


def test_cli_lists_stories_and_shows_one_with_its_storyline(scenario: Scenario) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "250"}
    config = str(scenario.config)
    stored = _stored(scenario.db)
    original = stored["solvane-engineer-charged-chip-designs"]

    listing = runner.invoke(app, ["stories", "-c", config, "--watch", "ip_theft"], env=env)
    assert listing.exit_code == 0, listing.output
    words = _words(listing.output)
    assert original.title in words
    assert "Harbor Tech Journal, Calder Bay Courier" in words  # the outlets of the story
    assert _development_article().title in words

    shown = runner.invoke(app, ["story", str(original.story_id), "-c", config], env=env)
    assert shown.exit_code == 0, shown.output
    words = _words(shown.output)
    assert "2 article(s) from Harbor Tech Journal, Calder Bay Courier" in words
    assert f"copy of #{original.id}" in words
    assert "storyline" in words and _development_article().title in words

    missing = runner.invoke(app, ["story", "999999", "-c", config], env=env)
    assert missing.exit_code == 1 and "no story 999999" in missing.output


def test_demo_alerts_on_the_relevant_stories_only(prefect_harness: None) -> None:
    console = Console(file=io.StringIO(), width=200)
    alerts = io.StringIO()
    with contextlib.redirect_stdout(alerts):  # the console channel prints to stdout
        run_demo(console)
    shown = _words(alerts.getvalue())
    for sample in load_sample_articles():
        expected = bool(sample.expect) and not sample.syndicated_from
        assert (sample.title in shown) == expected, sample.slug
    assert "10 sent" in console.file.getvalue()  # type: ignore[attr-defined]
