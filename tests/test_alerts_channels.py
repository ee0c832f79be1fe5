"""Channel configuration: validation, secrets kept out of errors and descriptions, dispatch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError
from rich.console import Console

from alerts.channels import (
    ChannelConfig,
    ConsoleChannel,
    EmailChannel,
    SlackChannel,
    describe,
    redact,
    send,
)
from alerts.errors import url_secrets
from alerts.message import AlertMessage
from newswatch.models import Evidence, Match

HOOK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/xyzSECRETtoken"
PASSWORD = "hunter2-SECRET"
ADAPTER: TypeAdapter[ChannelConfig] = TypeAdapter(ChannelConfig)


class Settings(BaseModel):
    """Like newswatch's settings: channels nested in a bigger model."""

    channels: dict[str, ChannelConfig]


EMAIL: dict[str, Any] = {
    "type": "email",
    "name": "mail",
    "host": "smtp.example.org",
    "username": "alerts",
    "password": PASSWORD,
    "sender": "newswatch <alerts@example.org>",
    "recipients": ["a@example.org"],
}
BOT: dict[str, Any] = {
    "type": "slack_bot",
    "name": "bot",
    "channel": "C0ALERTS",
    "token": "xoxb-1-SECRET",
}


def test_discriminated_union() -> None:
    assert isinstance(ADAPTER.validate_python({"type": "console"}), ConsoleChannel)
    slack = ADAPTER.validate_python({"type": "slack", "name": "team", "webhook_url": HOOK})
    assert isinstance(slack, SlackChannel) and slack.webhook_url is not None
    email = ADAPTER.validate_python(EMAIL)
    assert isinstance(email, EmailChannel) and (email.port, email.security) == (587, "starttls")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"type": "slack", "name": "t"}, "exactly one of webhook_url, webhook_url_env or webhook"),
        (
            {"type": "slack", "name": "t", "webhook_url": HOOK, "webhook_url_secret_block": "b"},
            "exactly one",
        ),
        ({"type": "slack", "name": "t", "webhook_url_secret_block": "Not_A_Block"}, "pattern"),
        ({"type": "apprise", "name": "t"}, "exactly one of url, url_env or url_secret_block"),
        ({"type": "webhook", "name": "t", "url": "ftp://x/SECRET"}, "http(s) URL"),
        (
            {"type": "webhook", "name": "t", "url": HOOK, "headers": {"X-A": "1\r\nX-B: SECRET"}},
            "line breaks",
        ),
        ({"type": "webhook", "name": "t", "url": HOOK, "headers": {"bad name": "v"}}, "header"),
        (
            {"type": "slack", "name": "t", "webhook_url": HOOK, "webhook_url_env": "X"},
            "exactly one",
        ),
        ({"type": "slack", "name": "t", "webhook_url": "ftp://x/SECRET"}, "http(s) URL"),
        ({"type": "slack", "name": "t", "webhook_url_env": "not a var"}, "pattern"),
        ({"type": "slack", "name": "t", "webhook": HOOK}, "Extra inputs"),
        ({"type": "slak", "name": "t", "webhook_url": HOOK}, "does not match"),
        ({**BOT, "token": "SECRET"}, "token must be a Slack bot token"),
        ({**BOT, "token_env": "X"}, "exactly one of token, token_env or token_secret_block"),
        ({"type": "slack_bot", "name": "t", "channel": "C1"}, "exactly one of token"),
        ({**BOT, "channel": "xoxb-1-SECRET"}, "channel holds a Slack token"),
        ({**BOT, "channel": "two words"}, "pattern"),
        ({**BOT, "api_url": "ftp://slack.com/api"}, "http(s) URL"),
        ({**BOT, "bot_token": "xoxb-2-SECRET"}, "Extra inputs"),
        ({"name": "t", "webhook_url": HOOK}, "Unable to extract tag"),
        ({**EMAIL, "password_env": "P"}, "at most one of password, password_env or password_"),
        ({**EMAIL, "password_secret_block": "smtp"}, "at most one of password"),
        ({**EMAIL, "username": None}, "a password needs a username"),
        ({**EMAIL, "password": None}, "give password, password_env or password_secret_block"),
        ({**EMAIL, "security": "none"}, "without TLS"),
        ({**EMAIL, "recipients": []}, "at least 1"),
        ({**EMAIL, "recipients": ["not-an-address"]}, "not a single valid email address"),
        ({**EMAIL, "recipients": ["a@b.org, c@d.org"]}, "not a single valid email address"),
        ({**EMAIL, "sender": "x@y.org\r\nBcc: z@w.org"}, "line breaks"),
        ({**EMAIL, "name": "bad name!"}, "pattern"),
        ({**EMAIL, "port": 0}, "greater than or equal to 1"),
    ],
)
def test_invalid_config_is_refused_without_echoing_secrets(
    table: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        Settings.model_validate({"channels": {"x": table}})
    shown = str(err.value) + repr(err.value.errors())
    assert message in shown
    assert "SECRET" not in shown
    if table.get("type") in ("slack", "slack_bot", "email"):  # the model on its own, too
        with pytest.raises(ValidationError) as direct:
            ADAPTER.validate_python(table)
        assert "SECRET" not in str(direct.value) + repr(direct.value.errors())
    if table.get("type") == "webhook":
        # A header value may be a token: it is never echoed either.
        assert "1\r\nX-B" not in shown


def test_repr_and_describe_hide_secrets() -> None:
    slack = SlackChannel(name="team", webhook_url=SecretStr(HOOK))
    email = EmailChannel.model_validate(EMAIL)
    for text in (repr(slack), str(slack), describe(slack), repr(email), describe(email)):
        assert "SECRET" not in text
    assert describe(slack) == "slack 'team' (webhook https://hooks.slack.com/…/****)"
    assert describe(SlackChannel(name="t", webhook_url_env="HOOK")) == (
        "slack 't' (webhook from $HOOK)"
    )
    assert describe(email) == (
        "email 'mail' (starttls smtp.example.org:587, user alerts, to a@example.org)"
    )
    assert describe(ConsoleChannel()) == "console 'console'"


def test_redact() -> None:
    text = f"POST {HOOK} failed; path /services/T0SECRET/B0SECRET/xyzSECRETtoken; pw {PASSWORD}"
    masked = redact(text, [*url_secrets(HOOK), PASSWORD, None, ""])
    assert "SECRET" not in masked and masked.count("****") == 3
    assert redact("nothing here", ["x" * 5]) == "nothing here"


def test_console_channel_prints_to_given_console() -> None:
    msg = AlertMessage(
        alert_id=3,
        kind="new_story",
        headline="[bold]x[/bold] headline",
        url="https://news.example/a",
        outlet="Outlet",
        published_at=datetime(2024, 1, 1),
        matches=(
            Match("ip_theft", 0.9, 0.5, True, ("t",), (Evidence("Because of [red]t[/red].", ()),)),
        ),
        lead="",
    )
    console = Console(record=True, width=100)
    send(ConsoleChannel(), msg, console=console)
    out = console.export_text()
    assert "[bold]x[/bold] headline" in out and "Because of [red]t[/red]." in out
