"""Email delivery against a real SMTP server (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from alerts.channels import DeliveryError, EmailChannel, describe, send
from alerts.message import AlertMessage
from newswatch.models import Evidence, Match
from tests.support.smtp_server import SmtpServer

USER, PASSWORD = "alerts", "pa55-w0rd-very-secret"

MSG = AlertMessage(
    alert_id=99,
    kind="new_story",
    headline="<script>alert(1)</script> Firm sues rival\r\nBcc: victim@example.com",
    url="https://news.example/sues",
    outlet="Example <b>News</b>",
    published_at=datetime(2024, 5, 2, 9, 0, tzinfo=UTC),
    matches=(
        Match(
            "ip_theft", 0.8, 0.5, True, ("misappropriation",), (Evidence("It alleges theft.", ()),)
        ),
    ),
    lead="The lawsuit alleges misappropriation of trade secrets.",
    watch_titles={"ip_theft": "IP theft"},
)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(username=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_mailbox(smtp: SmtpServer) -> None:
    smtp.clear()


def channel(smtp: SmtpServer, **changes: Any) -> EmailChannel:
    fields: dict[str, Any] = {
        "name": "analysts",
        "host": smtp.host,
        "port": smtp.port,
        "username": USER,
        "password": PASSWORD,
        "sender": "newswatch <alerts@newswatch.test>",
        "recipients": ["analyst@newswatch.test", "Lead Analyst <lead@newswatch.test>"],
        "ca_file": smtp.ca_file,
        "local_hostname": "localhost",
        "timeout_s": 5,
    }
    fields.update(changes)
    return EmailChannel(**fields)


def parts(mail: EmailMessage) -> tuple[str, str]:
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_sent_over_starttls_with_auth(smtp: SmtpServer) -> None:
    send(channel(smtp), MSG)
    [received] = smtp.received
    assert received.tls and received.authenticated
    assert received.mail_from == "alerts@newswatch.test"
    assert received.rcpt_tos == ("analyst@newswatch.test", "lead@newswatch.test")
    mail = received.message
    assert mail.get_content_type() == "multipart/alternative"
    text, html = parts(mail)
    assert "It alleges theft." in text and "score 0.80 (threshold 0.50)" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "Example &lt;b&gt;News&lt;/b&gt;" in html
    assert '<a href="https://news.example/sues">' in html


def test_headers(smtp: SmtpServer) -> None:
    send(channel(smtp), MSG)
    [mail] = smtp.messages
    subject = str(mail["Subject"])
    assert subject.startswith("[newswatch] ip_theft: <script>alert(1)</script> Firm sues rival")
    assert "\r" not in subject and "\n" not in subject
    assert mail["Bcc"] is None  # the headline could not add a header
    assert str(mail["Message-ID"]).endswith("@newswatch.test>")
    assert str(mail["List-Id"]) == "newswatch alerts <alerts.newswatch>"
    assert str(mail["X-Newswatch-Alert-Id"]) == "99"
    assert str(mail["Auto-Submitted"]) == "auto-generated"
    assert mail["Date"] is not None
    assert str(mail["From"]) == "newswatch <alerts@newswatch.test>"


def test_password_from_environment(smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    chan = channel(smtp, password=None, password_env="NW_TEST_SMTP_PASSWORD")
    monkeypatch.delenv("NW_TEST_SMTP_PASSWORD", raising=False)
    with pytest.raises(DeliveryError, match=r"\$NW_TEST_SMTP_PASSWORD is not set"):
        send(chan, MSG)
    monkeypatch.setenv("NW_TEST_SMTP_PASSWORD", PASSWORD)
    send(chan, MSG)
    assert len(smtp.messages) == 1
    assert "password from $NW_TEST_SMTP_PASSWORD" in describe(chan)
    assert PASSWORD not in describe(channel(smtp)) and PASSWORD not in repr(channel(smtp))


def test_wrong_password_is_permanent_and_not_shown(smtp: SmtpServer) -> None:
    wrong = "wr0ng-" + PASSWORD
    with pytest.raises(DeliveryError) as err:
        send(channel(smtp, password=wrong), MSG)
    assert not err.value.retryable
    assert "authentication failed: 535" in str(err.value)
    assert wrong not in str(err.value) and PASSWORD not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert smtp.messages == []


def test_untrusted_certificate_is_permanent(smtp: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as err:
        send(channel(smtp, ca_file=None), MSG)
    assert not err.value.retryable and "certificate" in str(err.value)
    assert smtp.messages == []


def test_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chan = EmailChannel(
        name="m",
        host="127.0.0.1",
        port=port,
        sender="a@b.test",
        recipients=["c@d.test"],
        security="none",
        local_hostname="localhost",
        timeout_s=2,
    )
    with pytest.raises(DeliveryError) as err:
        send(chan, MSG)
    assert err.value.retryable


def test_plain_connection_refused_by_starttls_only_server(smtp: SmtpServer) -> None:
    chan = channel(smtp, security="none", username=None, password=None)
    with pytest.raises(DeliveryError) as err:
        send(chan, MSG)
    assert not err.value.retryable and "530" in str(err.value)


def test_implicit_tls() -> None:
    with SmtpServer(username=USER, password=PASSWORD, implicit_tls=True) as server:
        send(channel(server, security="tls"), MSG)
        [received] = server.received
        assert received.tls and received.authenticated


# The four hostile titles of the issue, in every place a page string reaches a mail.
HOSTILE_TITLES = ["<!channel>", "<http://evil|click>", "\r\nBcc: x@y", "<script>"]


@pytest.mark.parametrize("hostile", HOSTILE_TITLES)
def test_hostile_titles_are_inert_in_headers_and_html(smtp: SmtpServer, hostile: str) -> None:
    msg = replace(
        MSG,
        headline=f"Firm sues rival {hostile} today",
        outlet=f"Outlet {hostile}",
        lead=f"Lead {hostile}",
    )
    send(channel(smtp), msg)
    [received] = smtp.received
    mail = received.message
    raw_headers = received.raw.split(b"\r\n\r\n", 1)[0].decode()
    # No header made by the title: exactly one Subject, no Bcc, nothing but ours.
    lines = raw_headers.split("\r\n")
    assert mail["Bcc"] is None and sum(line.startswith("Subject:") for line in lines) == 1
    assert not any(line.lower().startswith("bcc") for line in lines)
    subject = str(mail["Subject"])
    assert "\r" not in subject and "\n" not in subject and "Firm sues rival" in subject
    assert received.rcpt_tos == ("analyst@newswatch.test", "lead@newswatch.test")  # no x@y
    _, html = parts(mail)
    for raw in ("<!channel>", "<http://evil", "<script>", "\r\nBcc"):
        assert raw not in html
    assert 'href="http://evil' not in html
    cleaned = hostile.strip()
    if cleaned.startswith("<"):
        assert html.count(cleaned.replace("<", "&lt;").replace(">", "&gt;")) >= 3
