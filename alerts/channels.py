"""Alert channels: configuration (from ``channel_config``), ``describe`` and ``send``.

    send(channel, msg)   # returns once the channel accepted the alert, else DeliveryError

``DeliveryError.retryable`` tells the outbox whether to try again; ``retry_after`` carries a
server's requested wait. No message, log line or repr made here contains a webhook URL or a
password (see ``errors.redact``).
"""

from __future__ import annotations

from typing import assert_never

from rich.console import Console

from .channel_config import (
    ChannelConfig,
    ConsoleChannel,
    EmailChannel,
    SlackChannel,
    check_secrets,
    describe,
    smtp_password,
    webhook_url,
)
from .errors import DeliveryError, redact
from .message import AlertMessage
from .render import console_renderable, slack_payload
from .send_email import build_email, smtp_send
from .send_slack import post_webhook

__all__ = [
    "ChannelConfig",
    "ConsoleChannel",
    "DeliveryError",
    "EmailChannel",
    "SlackChannel",
    "check_secrets",
    "describe",
    "redact",
    "send",
]


def send(channel: ChannelConfig, msg: AlertMessage, *, console: Console | None = None) -> None:
    """Deliver ``msg`` on ``channel``; return when accepted, or raise ``DeliveryError``.

    ``console`` is where the console channel prints (a fresh stdout Console by default).
    """
    if isinstance(channel, ConsoleChannel):
        (console or Console()).print(console_renderable(msg))
    elif isinstance(channel, SlackChannel):
        url = webhook_url(channel)
        post_webhook(url, slack_payload(msg), timeout=channel.timeout_s, label=describe(channel))
    elif isinstance(channel, EmailChannel):
        password = smtp_password(channel)
        smtp_send(channel, build_email(channel, msg), password, label=describe(channel))
    else:
        assert_never(channel)
