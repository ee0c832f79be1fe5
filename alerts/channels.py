"""Alert channels: configuration (from ``channel_config``), ``describe``, ``send`` and
``send_digest``.

    send(channel, msg)            # returns once the channel accepted the alert, else DeliveryError
    send_digest(channel, digest)  # the same for a periodic digest

``DeliveryError.retryable`` tells the outbox whether to try again; ``retry_after`` carries a
server's requested wait. No message, log line or repr made here contains a webhook URL or a
password (see ``errors.redact``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, assert_never

from rich.console import Console, RenderableType

from .channel_config import (
    CHANNEL_TYPES,
    AppriseChannel,
    ChannelConfig,
    ConsoleChannel,
    EmailChannel,
    SlackBotChannel,
    SlackChannel,
    WebhookChannel,
    bot_token,
    check_secrets,
    describe,
    smtp_password,
    target_url,
    webhook_headers,
    webhook_url,
)
from .digest import Digest
from .errors import DeliveryError, redact
from .message import AlertMessage
from .render import console_renderable, email_subject, email_text, slack_payload
from .render_digest import (
    digest_console,
    digest_document,
    digest_slack_payload,
    digest_text,
    digest_title,
)
from .render_json import alert_document
from .send_apprise import notify
from .send_email import build_digest_email, build_email, smtp_send
from .send_slack import post_webhook
from .send_slack_api import post_message
from .send_webhook import post_json

__all__ = [
    "CHANNEL_TYPES",
    "AppriseChannel",
    "ChannelConfig",
    "ConsoleChannel",
    "DeliveryError",
    "EmailChannel",
    "SlackBotChannel",
    "SlackChannel",
    "WebhookChannel",
    "check_secrets",
    "describe",
    "redact",
    "send",
    "send_digest",
]


@dataclass(frozen=True, slots=True)
class _Rendering:
    """One thing to send, rendered lazily for whichever channel it goes to."""

    console: Callable[[], RenderableType]
    slack: Callable[[], dict[str, Any]]
    email: Callable[[EmailChannel], EmailMessage]
    title: Callable[[], str]
    text: Callable[[], str]
    document: Callable[[], dict[str, Any]]


def send(channel: ChannelConfig, msg: AlertMessage, *, console: Console | None = None) -> None:
    """Deliver ``msg`` on ``channel``; return when accepted, or raise ``DeliveryError``.

    ``console`` is where the console channel prints (a fresh stdout Console by default).
    """
    rendering = _Rendering(
        console=lambda: console_renderable(msg),
        slack=lambda: slack_payload(msg),
        email=lambda ch: build_email(ch, msg),
        title=lambda: email_subject(msg),
        text=lambda: email_text(msg),
        document=lambda: alert_document(msg),
    )
    _dispatch(channel, rendering, console)


def send_digest(channel: ChannelConfig, digest: Digest, *, console: Console | None = None) -> None:
    """Deliver ``digest`` on ``channel`` as one message; raise ``DeliveryError`` if refused."""
    rendering = _Rendering(
        console=lambda: digest_console(digest),
        slack=lambda: digest_slack_payload(digest),
        email=lambda ch: build_digest_email(ch, digest),
        title=lambda: digest_title(digest),
        text=lambda: digest_text(digest),
        document=lambda: digest_document(digest),
    )
    _dispatch(channel, rendering, console)


def _dispatch(channel: ChannelConfig, rendering: _Rendering, console: Console | None) -> None:
    label = describe(channel)
    if isinstance(channel, ConsoleChannel):
        (console or Console()).print(rendering.console())
    elif isinstance(channel, SlackChannel):
        post_webhook(
            webhook_url(channel), rendering.slack(), timeout=channel.timeout_s, label=label
        )
    elif isinstance(channel, SlackBotChannel):
        # The same Block Kit payload as the webhook, posted with chat.postMessage.
        post_message(
            channel.api_url,
            bot_token(channel),
            channel.channel,
            rendering.slack(),
            timeout=channel.timeout_s,
            label=label,
        )
    elif isinstance(channel, EmailChannel):
        password = smtp_password(channel)
        smtp_send(channel, rendering.email(channel), password, label=label)
    elif isinstance(channel, AppriseChannel):
        notify(target_url(channel), title=rendering.title(), body=rendering.text(), label=label)
    elif isinstance(channel, WebhookChannel):
        headers, secrets = webhook_headers(channel)
        post_json(
            target_url(channel),
            rendering.document(),
            headers=headers,
            timeout=channel.timeout_s,
            label=label,
            secrets=secrets,
        )
    else:
        assert_never(channel)
