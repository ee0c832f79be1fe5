"""POST a JSON document to a generic webhook and classify the answer.

Any 2xx is accepted. 408, 429 and 5xx are retried (honouring ``Retry-After``); other
statuses and redirects are permanent. The URL and secret header values are masked in every
message, as for Slack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from .errors import DeliveryError, redact, url_secrets
from .send_slack import parse_retry_after, register_secrets
from .text import clean, truncate

USER_AGENT = "newswatch-alerts/1"


def post_json(
    url: str,
    document: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    timeout: float,
    label: str,
    secrets: Sequence[str] = (),
) -> None:
    """POST ``document`` as JSON; return on 2xx, else raise ``DeliveryError``."""
    hidden = [*url_secrets(url), *secrets]
    register_secrets(hidden)

    def fail(text: str, *, retryable: bool, retry_after: float | None = None) -> DeliveryError:
        return DeliveryError(
            redact(f"{label}: {text}", hidden), retryable=retryable, retry_after=retry_after
        )

    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(
                url, json=dict(document), headers={"User-Agent": USER_AGENT, **headers}
            )
    except httpx.TimeoutException as exc:
        raise fail(f"timed out after {timeout:g}s ({type(exc).__name__})", retryable=True) from None
    except httpx.UnsupportedProtocol:
        raise fail("URL is not http(s)", retryable=False) from None
    except httpx.TransportError as exc:
        raise fail(f"cannot reach it: {type(exc).__name__}: {exc}", retryable=True) from None
    except httpx.InvalidURL:
        raise fail("URL is invalid", retryable=False) from None
    status = response.status_code
    if 200 <= status < 300:
        return
    body = truncate(clean(response.text), 200)
    what = f"HTTP {status}" + (f": {body}" if body else "")
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status in (408, 429) or status >= 500:
        raise fail(f"webhook failed ({what})", retryable=True, retry_after=retry_after)
    if 300 <= status < 400:
        raise fail(f"webhook redirected ({what}); update the URL", retryable=False)
    raise fail(f"webhook refused the document ({what})", retryable=False)
