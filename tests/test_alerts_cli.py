"""`newswatch alerts test CHANNEL`, `newswatch alerts retry` and `newswatch digest --preview`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.channels import SlackBotChannel, SlackChannel
from alerts.outbox import RetryPolicy, deliver_pending
from newswatch.cli import app
from storage import repo
from storage.db import Database
from tests.support.outbox_data import add_article, seed_alerts
from tests.support.slack_receiver import SlackReceiver

runner = CliRunner()


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


@pytest.fixture
def setup(tmp_path: Path, slack: SlackReceiver) -> tuple[Path, str, dict[str, str]]:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f'database_url = "{database}"\n'
        "[channels.team]\n"
        'type = "slack"\n'
        'webhook_url_env = "NW_TEST_CLI_HOOK"\n'
    )
    return config, database, {"NW_TEST_CLI_HOOK": slack.url}


def test_alerts_test_sends_through_the_real_channel(
    setup: tuple[Path, str, dict[str, str]], slack: SlackReceiver
) -> None:
    config, _, env = setup
    result = runner.invoke(app, ["alerts", "test", "team", "-c", str(config)], env=env)
    assert result.exit_code == 0, result.output
    assert "sent to slack 'team' (webhook from $NW_TEST_CLI_HOOK)" in result.output
    [payload] = slack.payloads
    assert "newswatch test message" in payload["text"]

    slack.fail_next(1, status=403, body="invalid_token")
    failed = runner.invoke(app, ["alerts", "test", "team", "-c", str(config)], env=env)
    assert failed.exit_code == 1 and "permanent" in failed.output
    assert "invalid_token" in failed.output
    for output in (result.output, failed.output):
        assert slack.path not in output and "s3cr3t" not in output

    unknown = runner.invoke(app, ["alerts", "test", "nope", "-c", str(config)], env=env)
    assert unknown.exit_code == 2 and "configured: team" in unknown.output


def test_alerts_retry_puts_failed_deliveries_back(
    setup: tuple[Path, str, dict[str, str]], slack: SlackReceiver
) -> None:
    config, database, env = setup
    db = Database(database)
    db.create_all()
    seed_alerts(db, 3, ["team"])
    slack.fail_next(3, status=404, body="no_service")
    channel = {"team": SlackChannel(name="team", webhook_url=slack.url)}  # type: ignore[arg-type]
    assert deliver_pending(db, channel, RetryPolicy()).failed == 3
    with db.session() as session:
        failed_ids = sorted(d.id for a in repo.list_alerts(session) for d in a.deliveries)

    listing = runner.invoke(app, ["alerts", "-c", str(config), "--failed"], env=env)
    assert listing.exit_code == 0 and f"#{failed_ids[0]} team: failed" in listing.output

    one = runner.invoke(
        app, ["alerts", "retry", str(failed_ids[0]), "999", "-c", str(config)], env=env
    )
    assert one.exit_code == 0, one.output
    assert f"1 delivery back to pending: #{failed_ids[0]}" in one.output
    assert "left alone: #999" in one.output
    rest = runner.invoke(app, ["alerts", "retry", "--all", "-c", str(config)], env=env)
    assert "2 deliveries back to pending" in rest.output
    neither = runner.invoke(app, ["alerts", "retry", "-c", str(config)], env=env)
    assert neither.exit_code == 2

    assert deliver_pending(db, channel, RetryPolicy()).sent == 3
    with db.session() as session:
        assert repo.delivery_status_counts(session) == {"sent": 3}
    db.dispose()


def test_digest_preview_prints_without_sending(
    setup: tuple[Path, str, dict[str, str]], slack: SlackReceiver
) -> None:
    config, database, env = setup
    db = Database(database)
    db.create_all()
    now = datetime.now(UTC) - timedelta(hours=2)
    _, story = add_article(db, slug="p1", title="Chip designs stolen", outlet="Wire", now=now)
    add_article(db, slug="p2", title="Second report", outlet="Daily", story_id=story, now=now)
    db.dispose()
    result = runner.invoke(app, ["digest", "--preview", "-c", str(config)], env=env)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.replace("│", " ").split())
    assert "Chip designs stolen (2 articles, 2 outlets)" in out
    assert "Second report [no alert of its own]" in out
    assert slack.attempts == 0


def test_alerts_test_sends_through_the_slack_bot(tmp_path: Path) -> None:
    from newswatch.alerts_cli import _needs_prefect
    from tests.support.slack_api_receiver import TOKEN, SlackApiReceiver

    with SlackApiReceiver(channels={"C0ALERTS"}, not_joined={"C0ALERTS"}) as api:
        config = tmp_path / "newswatch.toml"
        config.write_text(
            "[channels.bot]\n"
            'type = "slack_bot"\n'
            'channel = "C0ALERTS"\n'
            'token_env = "NW_TEST_CLI_BOT_TOKEN"\n'
            f'api_url = "{api.api_url}"\n'
        )
        env = {"NW_TEST_CLI_BOT_TOKEN": TOKEN}
        failed = runner.invoke(app, ["alerts", "test", "bot", "-c", str(config)], env=env)
        assert failed.exit_code == 1 and "permanent" in failed.output
        assert "not_in_channel: invite the bot to the channel" in failed.output
        api.not_joined.clear()  # the bot was invited
        result = runner.invoke(app, ["alerts", "test", "bot", "-c", str(config)], env=env)
        assert result.exit_code == 0, result.output
        assert "sent to slack_bot 'bot' (C0ALERTS, token from $NW_TEST_CLI_BOT_TOKEN)" in (
            result.output
        )
        [request] = api.requests
        assert "newswatch test message" in request.body["text"]
        for output in (result.output, failed.output):
            assert TOKEN not in output and TOKEN[5:] not in output
        channel = SlackBotChannel(name="b", channel="C1", token_secret_block="nw-bot")
        assert _needs_prefect(channel)  # `alerts test` loads the Secret block first
