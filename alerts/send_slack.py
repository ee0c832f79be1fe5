"""POST a payload to a Slack incoming webhook and classify the answer.

Slack's contract: 200 with body ``ok`` when posted; 429 with ``Retry-After`` when rate
limited; 4xx with a short code (``invalid_payload``, ``no_service``...) when the request or
the webhook is wrong; 5xx when Slack is in trouble.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .errors import Fail, failing, redact, url_secrets
from .text import clean, truncate

log = logging.getLogger(__name__)

RETRY_AFTER_MAX = 24 * 3600.0  # a silly header must not park a delivery for ever


class _RedactSecrets(logging.Filter):
    """Masks known webhook URLs in httpx's own log records.

    httpx logs every request at INFO as ``HTTP Request: POST <full URL> ...``; with INFO
    logging on (Prefect's handlers, say) that would write the webhook URL to the logs.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = self._secrets | {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if secrets:
            text = record.getMessage()
            masked = redact(text, secrets)
            if masked != text:
                record.msg, record.args = masked, None
        return True


_redactor = _RedactSecrets()
logging.getLogger("httpx").addFilter(_redactor)


def redact_logger(name: str) -> None:
    """Mask registered secrets in this library logger's records too (e.g. ``apprise``)."""
    logger = logging.getLogger(name)
    if _redactor not in logger.filters:
        logger.addFilter(_redactor)


def register_secrets(secrets: Iterable[str]) -> None:
    """Mask these strings in httpx's log records from now on (URLs, header tokens)."""
    _redactor.add(secrets)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), RETRY_AFTER_MAX)


def http_post(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: float,
    fail: Fail,
    headers: Mapping[str, str] | None = None,
    target: str = "webhook",
) -> httpx.Response:
    """POST ``payload`` as JSON; a failure to get any answer becomes ``fail(...)``.

    The exceptions are raised ``from None`` so the original httpx error (which holds the
    URL) is not printed in a traceback.
    """
    try:
        # No redirects: an endpoint that moved is a config problem, and the Location may leak.
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            return client.post(url, json=dict(payload), headers=headers)
    except httpx.TimeoutException as exc:
        raise fail(f"timed out after {timeout:g}s ({type(exc).__name__})", retryable=True) from None
    except httpx.UnsupportedProtocol:
        raise fail(f"{target} URL is not http(s)", retryable=False) from None
    except httpx.TransportError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise fail(f"cannot reach the {target}: {reason}", retryable=True) from None
    except httpx.InvalidURL:
        raise fail(f"{target} URL is invalid", retryable=False) from None


def raise_for_status(
    response: httpx.Response, fail: Fail, *, target: str = "webhook", refused: str = "the alert"
) -> None:
    """Return on 2xx; retry 408, 429 and 5xx (honouring ``Retry-After``); else permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = truncate(clean(response.text), 200)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    what = f"HTTP {status}" + (f": {body}" if body else "")
    if status == 429:
        raise fail(f"rate limited ({what})", retryable=True, retry_after=retry_after)
    if status >= 500 or status == 408:
        raise fail(f"{target} failed ({what})", retryable=True, retry_after=retry_after)
    if 300 <= status < 400:
        raise fail(f"{target} redirected ({what}); update the URL", retryable=False)
    raise fail(f"{target} refused {refused} ({what})", retryable=False)


def post_webhook(url: str, payload: Mapping[str, Any], *, timeout: float, label: str) -> None:
    """POST ``payload`` as JSON to ``url``; return if Slack accepted it, else raise.

    ``label`` names the channel in error messages (e.g. ``describe(channel)``). Every
    message is redacted of the URL.
    """
    secrets = url_secrets(url)
    register_secrets(secrets)
    fail = failing(label, secrets)
    response = http_post(url, payload, timeout=timeout, fail=fail)
    raise_for_status(response, fail)
    body = truncate(clean(response.text), 200)
    if body != "ok":
        # Accepted all the same: sending again would risk a duplicate post.
        log.warning(
            "%s: HTTP %d with unexpected body %r",
            label,
            response.status_code,
            redact(body, secrets),
        )
