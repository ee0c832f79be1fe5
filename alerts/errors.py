"""Delivery failures, and keeping secrets out of their messages.

Library errors carry the very things we must never log: httpx puts the request URL (a Slack
webhook URL *is* the credential) into its messages, an SMTP server may echo what it got.
So every message built from a library error goes through ``redact``, and senders raise
``DeliveryError ... from None`` so a traceback does not print the original exception either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from urllib.parse import unquote, urlsplit

MASK = "****"


class DeliveryError(Exception):
    """A channel did not accept an alert.

    ``retryable``: the outbox may try again later (timeouts, 5xx, 429, SMTP 4xx); otherwise
    the failure is permanent (bad credentials, 4xx, SMTP 5xx, bad configuration).
    ``retry_after``: seconds the server asked us to wait (Slack's ``Retry-After``), if any.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments defeat Exception's default pickling (Prefect pickles results).
        return (_rebuild, (str(self), self.retryable, self.retry_after))


class Fail(Protocol):
    """Builds the ``DeliveryError`` a sender raises (see ``failing``)."""

    def __call__(
        self, text: str, *, retryable: bool, retry_after: float | None = None
    ) -> DeliveryError: ...


def failing(label: str, secrets: Iterable[str | None]) -> Fail:
    """A ``Fail`` whose messages start with ``label`` and never contain a secret."""
    hidden = list(secrets)

    def fail(text: str, *, retryable: bool, retry_after: float | None = None) -> DeliveryError:
        return DeliveryError(
            redact(f"{label}: {text}", hidden), retryable=retryable, retry_after=retry_after
        )

    return fail


def _rebuild(message: str, retryable: bool, retry_after: float | None) -> DeliveryError:
    return DeliveryError(message, retryable=retryable, retry_after=retry_after)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``****``."""
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def url_secrets(url: str) -> list[str]:
    """The forms in which a secret URL may show up in an error: whole, decoded, its path.

    A Slack webhook's token is its path (``/services/T…/B…/…``); libraries may print the URL
    normalised or only the path, so mask each form.
    """
    forms = [url, unquote(url)]
    try:
        parts = urlsplit(url)
    except ValueError:
        return forms
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(path) > 1:  # "/" alone is not a secret, and masking it would garble messages
        forms += [path, unquote(path)]
    return forms
