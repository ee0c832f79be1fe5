"""Send a title and a plain-text body through Apprise (Teams, Discord, Telegram, ntfy, ...).

Apprise answers only True or False, so a failure is retried (up to the outbox's attempts);
a URL Apprise does not understand is a configuration error and is not. Apprise's own log
lines are captured for the error message and masked of every URL form, as its records are.
"""

from __future__ import annotations

import logging
import re

import apprise

from .errors import DeliveryError, redact, url_secrets
from .send_slack import redact_logger, register_secrets
from .text import clean, truncate

# Apprise logs through its own logger; the requests it makes are logged by urllib3 at DEBUG
# with their path, which for many services holds the token.
redact_logger("apprise")
redact_logger("urllib3.connectionpool")


def _secrets(urls: str) -> list[str]:
    forms = [urls]
    for url in re.split(r"[\s,]+", urls.strip()):
        if url:
            forms += url_secrets(url)
            # Apprise URLs put tokens in the "host" and user parts too: mask everything after
            # the scheme, whatever shape a service gives its URL.
            forms.append(url.split("://", 1)[-1])
    return forms


def notify(urls: str, *, title: str, body: str, label: str) -> None:
    """Send ``title``/``body`` as plain text to every Apprise URL in ``urls``; raise on failure."""
    secrets = _secrets(urls)
    register_secrets(secrets)

    def fail(text: str, *, retryable: bool) -> DeliveryError:
        return DeliveryError(redact(f"{label}: {text}", secrets), retryable=retryable)

    sender = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        if not sender.add(urls):
            raise fail("Apprise does not understand the URL", retryable=False)
        ok = sender.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        log = str(captured.getvalue())
    if ok:
        return
    reason = truncate(clean(log), 300) or "no detail given"
    raise fail(f"Apprise could not deliver ({reason})", retryable=True)
