"""POST a JSON document to a generic webhook and classify the answer.

Any 2xx is accepted. 408, 429 and 5xx are retried (honouring ``Retry-After``); other
statuses and redirects are permanent (``send_slack.raise_for_status``, shared with Slack).
The URL and secret header values are masked in every message, as for Slack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import failing, url_secrets
from .send_slack import http_post, raise_for_status, register_secrets

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
    fail = failing(label, hidden)
    response = http_post(
        url, document, headers={"User-Agent": USER_AGENT, **headers}, timeout=timeout, fail=fail
    )
    raise_for_status(response, fail, refused="the document")
