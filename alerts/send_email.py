"""Build the alert email and submit it over SMTP (STARTTLS, implicit TLS or plain).

SMTP replies decide retries: 4xx is temporary (retry), 5xx permanent; a dropped or refused
connection is retried; a certificate that does not verify, or a server without STARTTLS
when it was asked for, is a configuration problem and is not. TLS is never silently skipped.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import TYPE_CHECKING

from .digest import Digest
from .errors import DeliveryError, redact
from .message import AlertMessage
from .render_digest import digest_html, digest_text, digest_title
from .render_email import email_html, email_subject, email_text
from .text import clean, truncate

if TYPE_CHECKING:
    from .channel_config import EmailChannel

log = logging.getLogger(__name__)

LIST_ID = "newswatch alerts <alerts.newswatch>"


def _addr_spec(value: str) -> str:
    return getaddresses([value])[0][1]


def build_email(channel: EmailChannel, msg: AlertMessage) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with threading-friendly headers."""
    sender = _addr_spec(channel.sender)
    mail = EmailMessage()
    mail["Subject"] = email_subject(msg)
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(usegmt=True)
    # An explicit domain: make_msgid would otherwise ask DNS for this host's FQDN.
    mail["Message-ID"] = make_msgid(f"alert{msg.alert_id}", domain=sender.rpartition("@")[2])
    mail["List-Id"] = LIST_ID
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    mail["X-Newswatch-Alert-Id"] = str(msg.alert_id)
    mail["X-Newswatch-Kind"] = msg.kind
    watches = ", ".join(dict.fromkeys(clean(m.watch) for m in msg.matches))
    if watches:
        mail["X-Newswatch-Watches"] = truncate(watches, 500)
    mail.set_content(email_text(msg))
    mail.add_alternative(email_html(msg), subtype="html")
    return mail


def build_digest_email(channel: EmailChannel, digest: Digest) -> EmailMessage:
    """The digest as one multipart/alternative message (text, then HTML)."""
    sender = _addr_spec(channel.sender)
    mail = EmailMessage()
    mail["Subject"] = truncate(clean(digest_title(digest)), 200)
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid("digest", domain=sender.rpartition("@")[2])
    mail["List-Id"] = LIST_ID
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(digest_text(digest))
    mail.add_alternative(digest_html(digest), subtype="html")
    return mail


def _tls_context(ca_file: str | None, label: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        try:
            # In addition to the system store (create_default_context(cafile=) would replace it).
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"{label}: cannot load ca_file: {exc}", retryable=False) from None
    return context


def _classify(exc: Exception) -> tuple[str, bool]:
    """A message and whether to retry, for an error raised while talking SMTP."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        refused = "; ".join(
            f"{rcpt}: {code} {reply.decode(errors='replace')}"
            for rcpt, (code, reply) in exc.recipients.items()
        )
        return f"all recipients refused ({refused})", all(400 <= c < 500 for c in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        what = (
            "authentication failed"
            if isinstance(exc, smtplib.SMTPAuthenticationError)
            else ("server refused")
        )
        return f"{what}: {exc.smtp_code} {text}", not 500 <= exc.smtp_code < 600
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"connection closed: {exc}", True
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"server lacks a required feature: {exc}", False
    if isinstance(exc, smtplib.SMTPException):
        return f"SMTP error: {exc}", False  # e.g. no AUTH mechanism in common
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}", False
    return f"cannot reach the server: {type(exc).__name__}: {exc}", True  # OSError, timeouts


def smtp_send(
    channel: EmailChannel, mail: EmailMessage, password: str | None, *, label: str
) -> None:
    """Submit ``mail`` to the channel's recipients; return once the server accepted it."""
    context = None if channel.security == "none" else _tls_context(channel.ca_file, label)
    client: smtplib.SMTP | None = None
    try:
        if channel.security == "tls":
            client = smtplib.SMTP_SSL(
                channel.host,
                channel.port,
                local_hostname=channel.local_hostname,
                timeout=channel.timeout_s,
                context=context,
            )
        else:
            client = smtplib.SMTP(
                channel.host,
                channel.port,
                local_hostname=channel.local_hostname,
                timeout=channel.timeout_s,
            )
        if channel.security == "starttls":
            client.starttls(context=context)  # raises if not offered: never fall back to plain
        if channel.username:
            client.login(channel.username, password or "")
        refused = client.send_message(
            mail,
            from_addr=_addr_spec(channel.sender),
            to_addrs=[_addr_spec(r) for r in channel.recipients],
        )
    except (smtplib.SMTPException, OSError) as exc:
        text, retryable = _classify(exc)
        raise DeliveryError(redact(f"{label}: {text}", [password]), retryable=retryable) from None
    finally:
        if client is not None:
            _close(client)
    if refused:
        # Some recipients got it: a retry would send them a duplicate, so report and go on.
        log.warning("%s: some recipients refused: %s", label, ", ".join(sorted(refused)))


def _close(client: smtplib.SMTP) -> None:
    # QUIT after the message was accepted: a failure here must not turn "sent" into an error.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
