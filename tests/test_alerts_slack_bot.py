"""The ``slack_bot`` channel (chat.postMessage with a bot token) against a local receiver that
speaks Slack's Web API contract."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from alerts.channels import DeliveryError, SlackBotChannel, describe, send, send_digest
from alerts.message import AlertMessage
from alerts.outbox import RetryPolicy, deliver_pending
from alerts.render_digest import digest_slack_payload
from alerts.render_slack import fallback_text, slack_payload
from newswatch.models import Evidence, Match
from storage.db import Database
from tests.support.outbox_data import NOW, seed_alerts
from tests.support.slack_api_receiver import TOKEN, SlackApiReceiver
from tests.test_alerts_digest import hostile_digest

MSG = AlertMessage(
    alert_id=7,
    kind="new_story",
    headline="Chip designs stolen <!channel> <http://evil|click>",
    url="https://news.example/chips",
    outlet="Example <!here>",
    published_at=None,
    matches=(Match("ip_theft", 8.5, 4.0, True, ("trade secrets",), (Evidence("He stole.", ()),)),),
    lead="A former engineer was charged.",
)


@pytest.fixture
def api() -> Iterator[SlackApiReceiver]:
    with SlackApiReceiver(channels={"C0ALERTS", "C0PRIVATE"}, not_joined={"C0PRIVATE"}) as r:
        yield r


def bot(api: SlackApiReceiver, channel: str = "C0ALERTS", token: str = TOKEN) -> SlackBotChannel:
    return SlackBotChannel(
        name="team",
        channel=channel,
        token=SecretStr(token),
        api_url=api.api_url,
        timeout_s=5,
    )


def refused(channel: SlackBotChannel, msg: AlertMessage = MSG) -> DeliveryError:
    with pytest.raises(DeliveryError) as err:
        send(channel, msg)
    return err.value


def test_posts_the_webhook_block_kit_message_with_the_bearer_token(api: SlackApiReceiver) -> None:
    send(bot(api), MSG)
    [request] = api.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    expected = slack_payload(MSG)
    assert body == {"channel": "C0ALERTS", **expected}  # the webhook's renderer, unchanged
    assert body["text"] == fallback_text(MSG)
    assert body["unfurl_links"] is False and body["unfurl_media"] is False
    # A hostile headline cannot ping the channel or smuggle a link.
    sent = json.dumps(body)
    assert "<!channel>" not in sent and "<!here>" not in sent and "<http://evil" not in sent
    assert "&lt;!channel&gt;" in body["text"] and "&lt;http://evil|click&gt;" in sent


def test_the_digest_goes_through_the_bot_too(api: SlackApiReceiver) -> None:
    digest = hostile_digest(60)  # more stories than 50 blocks hold: cut, not refused
    send_digest(bot(api), digest)
    [request] = api.requests
    assert request.body == {"channel": "C0ALERTS", **digest_slack_payload(digest)}
    assert len(request.body["blocks"]) <= 50 and "<!channel>" not in json.dumps(request.body)


@pytest.mark.parametrize(
    "code",
    [
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "missing_scope",
        "some_new_error",
    ],
)
def test_refusals_are_permanent(api: SlackApiReceiver, code: str) -> None:
    api.error_next(code)
    err = refused(bot(api))
    assert not err.retryable and err.retry_after is None
    assert f"Slack refused the message ({code}" in str(err)
    assert api.requests == []


def test_the_contract_refusals_name_the_fix(api: SlackApiReceiver) -> None:
    err = refused(bot(api, channel="C0PRIVATE"))
    assert not err.retryable and "not_in_channel: invite the bot to the channel" in str(err)
    assert "channel_not_found" in str(refused(bot(api, channel="C0NOPE")))
    assert "invalid_auth" in str(refused(bot(api, token="xoxb-0000-wrong")))
    api.error_next("missing_scope", needed="chat:write")
    assert "needs scope chat:write" in str(refused(bot(api)))
    api.error_next("invalid_blocks", response_metadata={"messages": ["[ERROR] bad block"]})
    assert "[ERROR] bad block" in str(refused(bot(api)))
    assert api.requests == []


@pytest.mark.parametrize(
    ("status", "code", "retry_after", "expected"),
    [
        (429, "ratelimited", "30", 30.0),  # what Slack does: HTTP 429 + Retry-After
        (200, "ratelimited", "12", 12.0),  # ok:false ratelimited, honoured all the same
        (200, "internal_error", None, None),
        (500, "internal_error", None, None),
        (503, "service_unavailable", "5", 5.0),
    ],
)
def test_rate_limits_and_server_trouble_are_retried(
    api: SlackApiReceiver, status: int, code: str, retry_after: str | None, expected: float | None
) -> None:
    api.fail_next(status, retry_after=retry_after, body={"ok": False, "error": code})
    err = refused(bot(api))
    assert err.retryable and err.retry_after == expected and code in str(err)
    send(bot(api), MSG)  # the next attempt goes through
    assert len(api.requests) == 1 and api.attempts == 2


def test_unreachable_and_silent_servers_are_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        gone = SlackBotChannel(
            name="t", channel="C1", token=SecretStr(TOKEN), api_url=f"http://127.0.0.1:{port}/api"
        )
        err = refused(gone)  # nobody listens yet
        assert err.retryable and "cannot reach the Slack API" in str(err)
        sock.listen()  # now the kernel accepts the connection, but nobody ever answers
        silent = gone.model_copy(update={"timeout_s": 0.3})
        err = refused(silent)
        assert err.retryable and "timed out after 0.3s" in str(err)


def test_an_answer_that_is_not_slack_is_permanent(api: SlackApiReceiver) -> None:
    api.fail_next(200, body="<html>captive portal</html>")
    err = refused(bot(api))
    assert not err.retryable and "not a Slack Web API answer" in str(err) and "api_url" in str(err)
    api.fail_next(404, body={"ok": False, "error": "unknown_method"})
    assert not refused(bot(api)).retryable


@pytest.mark.parametrize(
    "script",
    [
        lambda api: api.error_next(f"invalid_auth {TOKEN}"),
        lambda api: api.fail_next(500, body={"ok": False, "error": f"echo Bearer {TOKEN}"}),
        lambda api: api.fail_next(429, retry_after="1", body=f"token={TOKEN}"),
        lambda api: api.fail_next(200, body=f"<html>{TOKEN}</html>"),
    ],
)
def test_the_token_never_shows(
    api: SlackApiReceiver,
    script: Callable[[SlackApiReceiver], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    script(api)
    channel = bot(api)
    err = refused(channel)
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    shown = [str(err), repr(err), caplog.text, repr(channel), str(channel), describe(channel)]
    assert not any(TOKEN in text or TOKEN[5:] in text for text in shown)
    assert "****" in str(err)
    assert describe(channel) == "slack_bot 'team' (C0ALERTS, token xoxb-****)"


def test_token_from_the_environment(api: SlackApiReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    chan = SlackBotChannel(
        name="team", channel="C0ALERTS", token_env="NW_TEST_BOT_TOKEN", api_url=api.api_url
    )
    assert describe(chan) == "slack_bot 'team' (C0ALERTS, token from $NW_TEST_BOT_TOKEN)"
    monkeypatch.delenv("NW_TEST_BOT_TOKEN", raising=False)
    err = refused(chan)
    assert "$NW_TEST_BOT_TOKEN is not set" in str(err) and not err.retryable
    monkeypatch.setenv("NW_TEST_BOT_TOKEN", "hunter2-SECRET\r\nX-Evil: 1")
    err = refused(chan)  # checked before it reaches a header, and not echoed
    assert "not a Slack bot token" in str(err) and "SECRET" not in str(err) and not err.retryable
    monkeypatch.setenv("NW_TEST_BOT_TOKEN", TOKEN)
    send(chan, MSG)
    assert len(api.requests) == 1


def test_token_from_a_secret_block(api: SlackApiReceiver) -> None:
    from flows.secrets import resolve_channel_secrets

    chan = SlackBotChannel(
        name="team", channel="C0ALERTS", token_secret_block="nw-bot-token", api_url=api.api_url
    )
    err = refused(chan)
    assert err.retryable and "'nw-bot-token' was not loaded" in str(err)
    resolved = resolve_channel_secrets({"team": chan}, loader=lambda name: TOKEN)["team"]
    assert isinstance(resolved, SlackBotChannel) and resolved.token_secret_block is None
    assert TOKEN not in repr(resolved)
    send(resolved, MSG)
    assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_outbox_waits_for_retry_after_then_sends(database_url: str, api: SlackApiReceiver) -> None:
    db = Database(database_url)
    db.create_all()
    try:
        seed_alerts(db, 2, ["team"])
        api.fail_next(429, retry_after="600")
        api.error_next("channel_not_found")
        channels = {"team": bot(api)}
        policy = RetryPolicy(base_s=1, max_s=2)
        report = deliver_pending(db, channels, policy, clock=lambda: NOW)
        assert (report.retrying, report.failed, report.sent) == (1, 1, 0)
        assert all(TOKEN not in e for e in report.errors)
        early = deliver_pending(db, channels, policy, clock=lambda: NOW + timedelta(seconds=599))
        assert early.sent == 0  # Retry-After outweighs the 1-2 s backoff
        later = deliver_pending(db, channels, policy, clock=lambda: NOW + timedelta(seconds=601))
        assert later.sent == 1 and len(api.requests) == 1
    finally:
        db.dispose()
