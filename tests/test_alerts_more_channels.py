"""The generic JSON ``webhook`` channel and the ``apprise`` channel, against a local endpoint."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from alerts.channels import AppriseChannel, DeliveryError, WebhookChannel, describe, send
from alerts.message import AlertMessage
from alerts.render_json import ALERT_SCHEMA
from newswatch.models import Evidence, Match
from tests.support.json_receiver import JsonReceiver

HOSTILE = "<!channel> <http://evil|click> \r\nBcc: x@y <script>alert(1)</script>"
MSG = AlertMessage(
    alert_id=7,
    kind="new_story",
    headline=f"Chip designs stolen {HOSTILE}",
    url="https://news.example/chips",
    outlet="Example News",
    published_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    matches=(
        Match("ip_theft", 8.5, 4.0, True, ("trade secrets",), (Evidence("He stole secrets.", ()),)),
    ),
    lead="A former engineer was charged.",
    watch_titles={"ip_theft": "IP theft"},
)
TOKEN = "Bearer tok-SECRET-123"


@pytest.fixture
def hook() -> Iterator[JsonReceiver]:
    with JsonReceiver() as receiver:
        yield receiver


# --- webhook -----------------------------------------------------------------------------------


def test_webhook_posts_the_documented_document(
    hook: JsonReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NW_TEST_HOOK_HEADERS", f'{{"Authorization": "{TOKEN}"}}')
    channel = WebhookChannel(
        name="siem",
        url=hook.url,  # type: ignore[arg-type]  # validated into a SecretStr
        headers={"X-Team": "intel"},  # type: ignore[dict-item]
        secret_headers_env="NW_TEST_HOOK_HEADERS",
    )
    send(channel, MSG)
    [request] = hook.wait_for(1)
    assert request.headers["authorization"] == TOKEN and request.headers["x-team"] == "intel"
    doc = request.body
    assert doc["schema"] == ALERT_SCHEMA and doc["alert_id"] == 7 and doc["kind"] == "new_story"
    assert doc["published_at"] == "2026-11-20T09:30:00+00:00"
    [watch] = doc["watches"]
    assert watch == {
        "watch": "ip_theft",
        "title": "IP theft",
        "score": 8.5,
        "threshold": 4.0,
        "terms": ["trade secrets"],
        "evidence": ["He stole secrets."],
    }
    # JSON carries the text as text: cleaned to one line, not HTML- or mrkdwn-escaped.
    assert "\r" not in doc["headline"] and "\n" not in doc["headline"]
    assert "<script>alert(1)</script>" in doc["headline"]
    assert "SECRET" not in describe(channel) and "SECRET" not in repr(channel)


def test_webhook_failures_are_classified_and_masked(
    hook: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    channel = WebhookChannel(name="siem", url=hook.url)  # type: ignore[arg-type]
    hook.answer_next(503, retry_after="30")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError) as err:
        send(channel, MSG)
    assert err.value.retryable and err.value.retry_after == 30
    hook.answer_next(400)
    with pytest.raises(DeliveryError) as permanent:
        send(channel, MSG)
    assert not permanent.value.retryable
    for text in (str(err.value), str(permanent.value), caplog.text):
        assert "newswatch-s3cr3t" not in text


def test_webhook_secret_headers_must_be_a_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NW_TEST_BAD_HEADERS", "Authorization: tok-SECRET")
    channel = WebhookChannel(
        name="siem",
        url="http://127.0.0.1:9/x",  # type: ignore[arg-type]
        secret_headers_env="NW_TEST_BAD_HEADERS",
    )
    with pytest.raises(DeliveryError, match="not a JSON object") as err:
        send(channel, MSG)
    assert "SECRET" not in str(err.value) and not err.value.retryable


# --- apprise -----------------------------------------------------------------------------------


def apprise_url(hook: JsonReceiver) -> str:
    # Apprise's json:// plugin POSTs {"title", "message", "type", ...} to this host and path.
    return f"json://127.0.0.1:{hook.port}/hooks/newswatch-s3cr3t"


def test_apprise_delivers_title_and_plain_text(hook: JsonReceiver) -> None:
    channel = AppriseChannel(name="teams", url=apprise_url(hook))  # type: ignore[arg-type]
    send(channel, MSG)
    [request] = hook.wait_for(1)
    assert request.path == "/hooks/newswatch-s3cr3t"
    body = request.body
    assert body["title"].startswith("[newswatch] ip_theft: Chip designs stolen")
    assert "\n" not in body["title"] and "\r" not in body["title"]
    assert "Why it matched" in body["message"] and "He stole secrets." in body["message"]
    assert describe(channel) == "apprise 'teams' (json://****)"


def test_apprise_failure_is_retryable_and_masked(
    hook: JsonReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = AppriseChannel(name="teams", url=apprise_url(hook))  # type: ignore[arg-type]
    hook.answer_next(500)
    with pytest.raises(DeliveryError) as err:
        send(channel, MSG)
    assert err.value.retryable and "Apprise could not deliver" in str(err.value)
    assert "newswatch-s3cr3t" not in str(err.value) + caplog.text
    nonsense = AppriseChannel(name="x", url="nosuchservice://SECRET@host")  # type: ignore[arg-type]
    with pytest.raises(DeliveryError, match="does not understand") as bad:
        send(nonsense, MSG)
    assert not bad.value.retryable and "SECRET" not in str(bad.value)
