"""Post a Block Kit message with Slack's Web API (``chat.postMessage``) and a bot token.

Slack's contract: HTTP 200 with ``{"ok": true, ...}`` when posted; HTTP 200 with
``{"ok": false, "error": CODE}`` when refused (a bad token, an unknown channel, a bot that
was not invited, a message Slack will not take); HTTP 429 with ``Retry-After`` when rate
limited; 5xx when Slack is in trouble. A plain httpx call: the contract is one POST, and
slack_sdk would add a dependency with its own retries and logging to keep the token out of.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import failing
from .send_slack import http_post, parse_retry_after, raise_for_status, register_secrets
from .text import clean, truncate

# Slack's own "try later" codes. Every other code (invalid_auth, token_revoked,
# channel_not_found, not_in_channel, is_archived, msg_too_long, invalid_blocks, ...) says the
# token, the channel or the message is wrong: sending it again would fail the same way.
RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)

# What to do about the usual configuration mistakes (shown in `newswatch alerts test`).
ADVICE = {
    "not_in_channel": "invite the bot to the channel",
    "channel_not_found": "check the channel ID, and invite the bot to a private channel",
    "missing_scope": "give the app the chat:write scope and reinstall it",
    "invalid_auth": "check the bot token (xoxb-...)",
}


def post_message(
    api_url: str,
    token: str,
    channel: str,
    payload: Mapping[str, Any],
    *,
    timeout: float,
    label: str,
) -> None:
    """``chat.postMessage`` ``payload`` (text, blocks, unfurl flags) to ``channel``; else raise.

    ``label`` names the channel in error messages; the token is masked in every message
    and in httpx's log records.
    """
    register_secrets([token])
    fail = failing(label, [token])
    target = "Slack API"
    response = http_post(
        f"{api_url.rstrip('/')}/chat.postMessage",
        {"channel": channel, **payload},
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
        fail=fail,
        target=target,
    )
    raise_for_status(response, fail, target=target, refused="the message")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        # Not Slack (a wrong api_url, a proxy's page): say so rather than count it as sent.
        body = truncate(clean(response.text), 100)
        raise fail(f"not a Slack Web API answer ({body!r}); check api_url", retryable=False)
    if answer["ok"]:
        return
    code = truncate(clean(str(answer.get("error") or "unknown_error")), 100)
    retryable = code in RETRYABLE_ERRORS
    raise fail(
        f"Slack refused the message ({code}{_hint(answer)})",
        retryable=retryable,
        retry_after=parse_retry_after(response.headers.get("Retry-After")) if retryable else None,
    )


def _hint(answer: dict[str, Any]) -> str:
    """What Slack adds to an error: the scope it needs, why the blocks are invalid."""
    parts = []
    advice = ADVICE.get(str(answer.get("error")))
    if advice:
        parts.append(advice)
    if answer.get("needed"):
        parts.append(f"needs scope {answer['needed']}")
    metadata = answer.get("response_metadata")
    messages = metadata.get("messages") if isinstance(metadata, dict) else None
    if isinstance(messages, list) and messages:
        parts.append("; ".join(str(m) for m in messages[:3]))
    return truncate(clean(": " + ", ".join(parts)), 300) if parts else ""
