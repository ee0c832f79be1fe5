"""Configuration: defaults, the user's file, environment overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray ./newswatch.toml


def test_defaults_list_real_sources_watches_and_console() -> None:
    settings = load_settings()
    assert len(settings.enabled_sources()) >= 12
    urls = " ".join(s.url for s in settings.sources.values())
    for outlet in (
        "infosecurity-magazine.com",
        "therecord.media",
        "bleepingcomputer.com",
        "securityweek.com",
        "ustr.gov",
    ):
        assert outlet in urls
    assert {"ip_theft", "trade_deal"} <= set(settings.watches)
    assert list(settings.channels) == ["console"]
    assert settings.database_url.startswith("sqlite:///")


def test_user_file_replaces_sections_and_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "newswatch.toml"
    config.write_text(
        '[sources.mine]\nkind = "atom"\nurl = "https://example.org/feed.atom"\n'
        "[http]\nmax_bytes = 123456\n"
    )
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("NEWSWATCH_HTTP__PER_HOST_CONCURRENCY", "4")
    settings = load_settings()  # found in the working directory
    assert list(settings.sources) == ["mine"] and settings.sources["mine"].name == "mine"
    assert settings.http.max_bytes == 123456
    assert settings.http.per_host_concurrency == 4
    assert settings.http.read_timeout_s == 20  # untouched defaults stay
    assert settings.database_url == "sqlite:///elsewhere.db"
    assert {"ip_theft", "trade_deal"} <= set(settings.watches)


def test_invalid_value_names_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        "# my sources\n"
        "[sources.wire]\n"
        'kind = "rss"\n'
        'url = "https://example.org/rss"\n'
        "\n"
        "[sources.broken]\n"
        'kind = "newsletter"\n'
        'url = "https://example.org/x"\n'
    )
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    assert "sources.broken.kind" in message and "line 7" in message
    assert str(config) in message


def test_unknown_key_and_bad_url_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[sources.x]\nkind = "rss"\nurl = "file:///etc/passwd"\nschedule = "hourly"\n'
    )
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    assert "line 3: sources.x.url" in message and "http(s)" in message
    assert "line 4: sources.x.schedule" in message


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[http]\nmax_bytes = = 3\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_settings(config)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_cli_refuses_invalid_config_before_starting(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[channels.team]\ntype = "pager"\n')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert "configuration error" in result.output and "channels.team" in result.output
    assert "Traceback" not in result.output


def test_cli_config_init_writes_a_file_that_loads(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["config", "init"]).exit_code == 0
    assert runner.invoke(app, ["config", "init"]).exit_code == 1  # no silent overwrite
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output


def test_channel_errors_name_the_key_without_the_type_tag(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[channels.email]\ntype = "email"\nhost = "smtp.example.org"\n'
        'sender = "a@example.org"\nrecipients = []\n'
        '[sources.email]\nkind = "rss"\nurl = "ftp://example.org/feed"\n'
    )
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    assert "line 5: channels.email.recipients" in message
    assert "line 8: sources.email.url" in message


def test_slack_bot_channel_loads_and_a_bad_one_is_refused_without_the_token(
    tmp_path: Path,
) -> None:
    from alerts.channels import SlackBotChannel

    config = tmp_path / "bot.toml"
    config.write_text(
        '[channels.team]\ntype = "slack_bot"\nchannel = "C0123ALERTS"\n'
        'token_secret_block = "newswatch-slack-bot"\n'
    )
    team = load_settings(config).channels["team"]
    assert isinstance(team, SlackBotChannel) and team.api_url == "https://slack.com/api"

    token = "xoxb-1111-2222-tOkEnSECRET"
    config.write_text(
        '[channels.team]\ntype = "slack_bot"\nchannel = "#alerts"\n'
        f'token = "{token}"\ntoken_env = "NEWSWATCH_SLACK_BOT_TOKEN"\n'
        f'[channels.other]\ntype = "slack_bot"\nchannel = "{token}"\ntoken = "not a token SECRET"\n'
    )
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    assert "channels.team.token_secret_block: Value error, give exactly one of token" in message
    assert "line 8: channels.other.channel: Value error, channel holds a Slack token" in message
    assert "line 9: channels.other.token: Value error, token must be a Slack bot token" in message
    assert "SECRET" not in message and "tOkEn" not in message
