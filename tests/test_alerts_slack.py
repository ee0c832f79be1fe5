"""Slack delivery against a local receiver that speaks the incoming-webhook contract."""

from __future__ import annotations

import logging
import pickle
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import SecretStr

from alerts.channels import DeliveryError, SlackChannel, describe, send
from alerts.message import AlertMessage
from alerts.send_slack import parse_retry_after
from newswatch.models import Evidence, Match
from tests.support.slack_receiver import SlackReceiver

MSG = AlertMessage(
    alert_id=7,
    kind="development",
    headline="Trade deal <!channel> signed",
    url="https://news.example/deal",
    outlet="Example",
    published_at=None,
    matches=(Match("trade_deals", 0.7, 0.5, True, ("trade deal",), (Evidence("A deal.", ()),)),),
    lead="The deal was signed.",
)


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


def channel(url: str) -> SlackChannel:
    return SlackChannel(name="team", webhook_url=SecretStr(url), timeout_s=5)


def secret_parts(url: str) -> list[str]:
    return [url, url.split("/", 3)[3]]  # whole URL, and its path (the token)


def test_sent_payload_arrives(slack: SlackReceiver) -> None:
    send(channel(slack.url), MSG)
    [payload] = slack.payloads
    assert payload["blocks"][0]["text"]["text"] == "Development · trade_deals"
    assert "&lt;!channel&gt;" in payload["text"]


def test_webhook_url_from_environment(
    slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    chan = SlackChannel(name="team", webhook_url_env="NW_TEST_SLACK_URL")
    monkeypatch.delenv("NW_TEST_SLACK_URL", raising=False)
    with pytest.raises(DeliveryError) as err:
        send(chan, MSG)
    assert "$NW_TEST_SLACK_URL is not set" in str(err.value) and not err.value.retryable
    monkeypatch.setenv("NW_TEST_SLACK_URL", slack.url)
    send(chan, MSG)
    assert len(slack.payloads) == 1
    assert describe(chan) == "slack 'team' (webhook from $NW_TEST_SLACK_URL)"


def test_rate_limited_is_retryable_with_retry_after(slack: SlackReceiver) -> None:
    slack.rate_limit_next(retry_after=30)
    with pytest.raises(DeliveryError) as err:
        send(channel(slack.url), MSG)
    assert err.value.retryable and err.value.retry_after == 30
    assert "429" in str(err.value)
    send(channel(slack.url), MSG)  # the next request goes through
    assert len(slack.payloads) == 1 and slack.attempts == 2


def test_server_error_is_retryable(slack: SlackReceiver) -> None:
    slack.fail_next(status=500)
    with pytest.raises(DeliveryError) as err:
        send(channel(slack.url), MSG)
    assert err.value.retryable and err.value.retry_after is None
    assert slack.payloads == []


@pytest.mark.parametrize(("status", "body"), [(400, "invalid_payload"), (403, "action_prohibited")])
def test_client_error_is_permanent(slack: SlackReceiver, status: int, body: str) -> None:
    slack.fail_next(status=status)
    with pytest.raises(DeliveryError) as err:
        send(channel(slack.url), MSG)
    assert not err.value.retryable and body in str(err.value)


def test_unknown_webhook_is_permanent(slack: SlackReceiver) -> None:
    with pytest.raises(DeliveryError) as err:
        send(channel(slack.url + "x"), MSG)
    assert not err.value.retryable and "no_service" in str(err.value)


def test_unreachable_is_retryable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T1/B2/tok3nT0k3n"
    with pytest.raises(DeliveryError) as err:
        send(channel(url), MSG)
    assert err.value.retryable
    assert not any(part in str(err.value) for part in secret_parts(url))


@pytest.mark.parametrize("status", [429, 500, 400, 404])
def test_webhook_url_never_in_errors_or_logs(
    slack: SlackReceiver, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail_next(status=status, retry_after=1, body=f"echo {slack.url}")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError) as err:
        send(channel(slack.url), MSG)
    shown = [str(err.value), repr(err.value), repr(err.value.__cause__), caplog.text]
    for part in secret_parts(slack.url):
        assert not any(part in text for text in shown)
    # A traceback shows no chained httpx error (whose message holds the URL).
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__
    assert "127.0.0.1/…/****" in str(err.value)  # the channel is still named


def test_delivery_error_pickles() -> None:
    err = DeliveryError("boom", retryable=True, retry_after=3.0)
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.retryable, back.retry_after) == ("boom", True, 3.0)


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < (parse_retry_after(later) or 0) <= 120
    assert parse_retry_after("99999999") == 24 * 3600
