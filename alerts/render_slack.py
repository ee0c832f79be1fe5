"""Slack Block Kit payload for an incoming webhook.

Every page-derived string is cleaned (one line, no control characters) and then escaped for
mrkdwn: ``&``, ``<`` and ``>`` are the only characters Slack gives meaning to in links and
mentions, so escaping them means a headline cannot make ``<!channel>`` pings or
``<http://evil|click here>`` links. Limits (header 150, section 3000, 50 blocks) are
respected by cutting with "…", never by letting Slack reject the payload.
"""

from __future__ import annotations

from typing import Any

from newswatch.models import Match

from .message import AlertMessage
from .text import (
    ALSO_REPORTED_MAX,
    ELLIPSIS,
    EVIDENCE_MAX,
    EVIDENCE_PER_WATCH,
    HEADLINE_MAX,
    LEAD_MAX,
    PREVIOUS_MAX,
    TERMS_PER_WATCH,
    clean,
    fit,
    format_score,
    format_when,
    is_http_url,
    kind_label,
    truncate,
)

HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_MAX = 2000
MAX_BLOCKS = 50
FALLBACK_MAX = 3000  # Slack truncates top-level text at 40,000; notifications need far less

URL_MAX = 1000  # a longer "URL" is shown as plain text rather than linked

Block = dict[str, Any]


def mrkdwn_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_url(url: str) -> str:
    # Inside <url|text>, "|" and ">" end the URL; percent-encoding keeps the link intact.
    return mrkdwn_escape(url).replace("|", "%7C")


def mrkdwn_link(url: str, text: str, limit: int) -> str:
    """``<url|text>`` for http(s) URLs, with ``text`` escaped and cut to ``limit``."""
    label = fit(clean(text) or clean(url) or "(untitled)", limit, mrkdwn_escape)
    target = _link_url(url)
    if len(target) > URL_MAX or not is_http_url(url):
        return label  # never link javascript:, data:, or anything that is not a web page
    return f"<{target}|{label}>"


def _lines_within(lines: list[str], limit: int) -> str:
    """Join whole lines while they fit; a cut line could break a link or an entity."""
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit - 2:
            kept.append(ELLIPSIS)
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}}


def _context(text: str) -> Block:
    element = {"type": "mrkdwn", "text": truncate(text, CONTEXT_MAX)}
    return {"type": "context", "elements": [element]}


def _esc(text: str, limit: int) -> str:
    return fit(clean(text), limit, mrkdwn_escape)


def _match_block(msg: AlertMessage, match: Match) -> Block:
    lines = [f"*{_esc(msg.watch_title(match.watch), 200)}* · {format_score(match)}"]
    if match.terms:
        terms = ", ".join(_esc(t, 100) for t in match.terms[:TERMS_PER_WATCH])
        extra = len(match.terms) - TERMS_PER_WATCH
        more = f" (+{extra})" if extra > 0 else ""
        lines.append(f"matched: {terms}{more}")
    # A literal ">" starts a Slack quote; the sentence itself is one escaped line.
    lines += [f">{_esc(e.sentence, EVIDENCE_MAX)}" for e in match.evidence[:EVIDENCE_PER_WATCH]]
    return _section(_lines_within(lines, SECTION_MAX))


def _previously_block(msg: AlertMessage) -> Block:
    lines = ["*Previously in this storyline*"]
    for prev in msg.previously[:PREVIOUS_MAX]:
        lines.append(f"• {format_when(prev.seen_at)}: {mrkdwn_link(prev.url, prev.headline, 200)}")
    if len(msg.previously) > PREVIOUS_MAX:
        lines.append(f"…and {len(msg.previously) - PREVIOUS_MAX} earlier")
    return _section(_lines_within(lines, SECTION_MAX))


def _context_line(msg: AlertMessage) -> str:
    parts = [_esc(msg.outlet, 200) or "unknown outlet", format_when(msg.published_at)]
    if msg.also_reported_by:
        others = ", ".join(_esc(o, 100) for o in msg.also_reported_by[:ALSO_REPORTED_MAX])
        extra = len(msg.also_reported_by) - ALSO_REPORTED_MAX
        parts.append(f"also reported by {others}" + (f" and {extra} more" if extra > 0 else ""))
    return " · ".join(parts)


def _titles(msg: AlertMessage) -> str:
    return ", ".join(msg.watch_title(m.watch) for m in msg.matches)


def fallback_text(msg: AlertMessage) -> str:
    """The top-level ``text``: shown in notifications and by clients without Block Kit."""
    text = f"{kind_label(msg)}: {_esc(msg.headline, HEADLINE_MAX)} ({_esc(msg.outlet, 200)})"
    if msg.matches:
        text += f" · {_esc(_titles(msg), 500)}"
    return truncate(text, FALLBACK_MAX)


def slack_payload(msg: AlertMessage) -> dict[str, Any]:
    """The JSON body to POST to a Slack incoming webhook for ``msg``."""
    # Header is plain_text (never parsed), built from our label and the watch titles only.
    header = clean(f"{kind_label(msg)} · {_titles(msg)}" if msg.matches else kind_label(msg))
    head: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(header, HEADER_MAX)}},
        _section(f"*{mrkdwn_link(msg.url, msg.headline, HEADLINE_MAX)}*"),
        _context(_context_line(msg)),
    ]
    if clean(msg.lead):
        head.append(_section(_esc(msg.lead, LEAD_MAX)))
    tail: list[Block] = []
    if msg.previously:
        tail.append(_previously_block(msg))
    tail.append(_context(f"newswatch alert #{msg.alert_id}"))

    room = MAX_BLOCKS - len(head) - len(tail)
    matches = [_match_block(msg, m) for m in msg.matches]
    if len(matches) > room:
        hidden = len(matches) - (room - 1)
        matches = [*matches[: room - 1], _context(f"…and {hidden} more watches matched")]
    return {
        "text": fallback_text(msg),
        "blocks": [*head, *matches, *tail],
        # An unfurl would show a preview the page itself controls; the alert says enough.
        "unfurl_links": False,
        "unfurl_media": False,
    }
