"""The daily digest: ranking, quiet articles, rendering with escaping, delivery, and the
`digest` flow with its artifact and a channel secret from a Prefect Secret block."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from alerts.channels import EmailChannel, WebhookChannel
from alerts.digest import Digest, build_digest, collect_digest
from alerts.digest_delivery import deliver_digest
from alerts.render_digest import (
    digest_html,
    digest_markdown,
    digest_slack_payload,
    digest_text,
    digest_title,
)
from alerts.send_email import build_digest_email
from storage.db import Database
from storage.repo import DigestRow
from tests.support.json_receiver import JsonReceiver
from tests.support.outbox_data import NOW, add_article

TITLES = {"ip_theft": "IP theft", "trade_deal": "Trade deals"}
HOSTILE = "<!channel> <http://evil|click> \r\nBcc: x@y <script>alert(1)</script>"


def seed_period(db: Database, now: datetime) -> None:
    """Story A: one alerted article. Story B: an alerted original, a later report from
    another outlet and a syndicated copy (neither alerted). A trade story. An old story."""
    add_article(db, slug="a", title="Engineer charged over chip designs", outlet="Wire", now=now)
    b_first, b_story = add_article(
        db, slug="b1", title=f"Carmaker sues rival {HOSTILE}", outlet="Daily", now=now
    )
    add_article(
        db, slug="b2", title="Rival denies theft", outlet="Trade Times", story_id=b_story, now=now
    )
    add_article(
        db,
        slug="b3",
        title=f"Carmaker sues rival {HOSTILE}",
        outlet="Syndicate",
        story_id=b_story,
        copy_of=b_first,
        now=now,
    )
    add_article(db, slug="t", title="Pact signed", outlet="Wire", watch="trade_deal", now=now)
    add_article(db, slug="old", title="Old news", outlet="Wire", now=now - timedelta(days=3))


def test_stories_are_ranked_by_coverage_with_quiet_articles(db: Database) -> None:
    seed_period(db, NOW)
    with db.session() as session:
        digest = collect_digest(
            session,
            since=NOW - timedelta(hours=24),
            until=NOW + timedelta(minutes=1),
            watch_titles=TITLES,
        )
    assert [s.watch for s in digest.sections] == ["ip_theft", "trade_deal"]
    ip = digest.sections[0]
    assert [len(s.articles) for s in ip.stories] == [3, 1]  # most covered first
    top = ip.stories[0]
    assert top.outlets == ("Daily", "Trade Times", "Syndicate")
    assert [a.alerted for a in top.articles] == [True, False, False]
    assert top.quiet_articles == 2 and top.articles[2].is_copy
    assert top.url == "https://b1.example/a"
    assert "Old news" not in json.dumps(digest_text(digest))
    assert (digest.story_count, digest.article_count) == (3, 5)


def hostile_digest(stories: int = 3) -> Digest:
    rows = [
        DigestRow(
            "ip_theft",
            5.0,
            i,
            i,
            f"Story {i} {HOSTILE}",
            f"Story {i} {HOSTILE}",
            f"https://x.example/{i}",
            f"Outlet {HOSTILE}",
            NOW,
            NOW,
            False,
            i % 2 == 0,
        )
        for i in range(stories)
    ]
    return build_digest(rows, since=NOW - timedelta(days=1), until=NOW, watch_titles=TITLES)


def test_digest_renders_page_strings_inert_everywhere() -> None:
    digest = hostile_digest()
    payload = digest_slack_payload(digest)
    for block in payload["blocks"]:
        texts = [block.get("text", {}).get("text", "")]
        texts += [e["text"] for e in block.get("elements", [])]
        for text in texts:
            assert "<!" not in text and "<http://evil" not in text and "<script" not in text
            for link in re.findall(r"<([^>]*)>", text):
                assert link.startswith("https://x.example/"), link
    html = digest_html(digest)
    assert "<script>" not in html and "&lt;script&gt;" in html and "\r" not in html
    markdown = digest_markdown(digest)
    assert "<script" not in markdown and "<!channel" not in markdown
    assert "\\[" not in markdown.split("](")[0] or "&lt;" in markdown
    # Outside link labels (where links cannot nest), a bare URL is escaped: no autolink.
    outside_links = re.sub(r"\[[^\]]*\]\([^)]*\)", "", markdown)
    assert "http://evil" not in outside_links and "<http" not in outside_links
    mail = build_digest_email(
        EmailChannel(name="m", host="localhost", sender="a@b.org", recipients=["c@d.org"]),
        digest,
    )
    assert mail["Bcc"] is None and "\n" not in str(mail["Subject"])
    text = digest_text(digest)
    assert "Bcc: x@y" in text and "\r\nBcc" not in text  # one line per article, no breaks


def test_slack_digest_stays_within_block_limits() -> None:
    payload = digest_slack_payload(hostile_digest(stories=120))
    assert len(payload["blocks"]) <= 50
    assert "more stories" in json.dumps(payload["blocks"][-1])
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in payload["blocks"])


def test_empty_period_says_so() -> None:
    empty = build_digest([], since=NOW - timedelta(days=1), until=NOW, watch_titles=TITLES)
    assert digest_title(empty).endswith("nothing new")
    assert "No story matched" in digest_text(empty)


def test_digest_delivery_retries_in_place_after_retry_after() -> None:
    digest = hostile_digest()
    slept: list[float] = []
    with JsonReceiver() as hook:
        channel = WebhookChannel(name="hook", url=hook.url)  # type: ignore[arg-type]
        hook.answer_next(503, retry_after="30")
        [ok] = deliver_digest(digest, {"hook": channel}, sleep=slept.append)
        assert ok.sent and ok.attempts == 2 and slept == [30.0]  # not before Retry-After
        hook.answer_next(429, retry_after="3600")
        [late] = deliver_digest(digest, {"hook": channel}, sleep=slept.append)
        assert not late.sent and late.attempts == 1 and slept == [30.0]
        [received] = hook.received
        assert received.body["schema"] == "newswatch.digest.v1"


# --- the flow, in the Prefect test harness ------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_digest_flow_sends_publishes_and_reads_a_secret_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.artifacts import Artifact
    from prefect.blocks.system import Secret

    from flows.digest import ARTIFACT_KEY, digest

    database = tmp_path / "digest.db"
    db = Database(f"sqlite:///{database}")
    db.create_all()
    seed_period(db, datetime.now(UTC) - timedelta(hours=1))
    db.dispose()
    with JsonReceiver() as hook:
        Secret(value=hook.url).save("nw-test-digest-hook", overwrite=True)
        config = tmp_path / "newswatch.toml"
        config.write_text(
            f'database_url = "sqlite:///{database}"\n'
            "[channels.hook]\n"
            'type = "webhook"\n'
            'url_secret_block = "nw-test-digest-hook"\n'
            "[channels.console]\n"
            'type = "console"\n'
        )
        result = digest(config_path=str(config), period_hours=24)
        [received] = hook.wait_for(1)
    assert result["channels"] == {"hook": "sent", "console": "sent"}
    assert (result["stories"], result["articles"]) == (3, 5)
    document = received.body
    assert document["schema"] == "newswatch.digest.v1"
    ip = document["watches"][0]
    assert ip["watch"] == "ip_theft" and len(ip["stories"][0]["articles"]) == 3
    artifact = Artifact.get(ARTIFACT_KEY)
    assert artifact is not None and "Engineer charged over chip designs" in str(artifact.data)
    assert "newswatch-s3cr3t" not in str(artifact.data) + capsys.readouterr().out


@pytest.mark.usefixtures("prefect_harness")
def test_secret_blocks_are_resolved_and_masked() -> None:
    from prefect.blocks.system import Secret

    from alerts.channels import DeliveryError, SlackChannel, describe, send_digest
    from flows.secrets import resolve_channel_secrets

    Secret(value="https://hooks.example/services/SECRET-PATH").save(
        "nw-test-slack-hook", overwrite=True
    )
    channels = {
        "slack": SlackChannel(name="slack", webhook_url_secret_block="nw-test-slack-hook"),
        "lost": SlackChannel(name="lost", webhook_url_secret_block="nw-test-no-such-block"),
    }
    warnings: list[str] = []
    resolved = resolve_channel_secrets(channels, warn=warnings.append)
    slack = resolved["slack"]
    assert isinstance(slack, SlackChannel) and slack.webhook_url is not None
    assert slack.webhook_url.get_secret_value().endswith("/SECRET-PATH")
    assert slack.webhook_url_secret_block is None
    assert "SECRET" not in repr(slack) + describe(slack)
    [warning] = warnings
    assert "nw-test-no-such-block" in warning and "SECRET" not in warning
    # A block that could not be read fails the delivery as retryable: a later run retries.
    with pytest.raises(DeliveryError) as err:
        send_digest(resolved["lost"], hostile_digest(), console=Console(file=None))
    assert err.value.retryable and "was not loaded" in str(err.value)
