"""Email subject, plain-text body and HTML body for an alert.

The subject is one cleaned line (no CR/LF or other control characters, so a headline cannot
add a ``Bcc:`` header) capped in length; the HTML body escapes every string with
``html.escape`` and links only http(s) URLs.
"""

from __future__ import annotations

from html import escape

from .message import AlertMessage
from .text import (
    ALSO_REPORTED_MAX,
    EVIDENCE_MAX,
    EVIDENCE_PER_WATCH,
    HEADLINE_MAX,
    LEAD_MAX,
    PREVIOUS_MAX,
    TERMS_PER_WATCH,
    clean,
    format_score,
    format_when,
    is_http_url,
    kind_label,
    truncate,
)

SUBJECT_MAX = 200
SUBJECT_PREFIX = "[newswatch]"


def _line(text: str, limit: int) -> str:
    return truncate(clean(text), limit)


def email_subject(msg: AlertMessage) -> str:
    """``[newswatch] ip_theft: Headline`` (watch names, stable for mail filters)."""
    watches = ",".join(dict.fromkeys(clean(m.watch) for m in msg.matches)) or "alert"
    if msg.kind == "development":
        watches += " (development)"
    return _line(f"{SUBJECT_PREFIX} {watches}: {clean(msg.headline) or '(untitled)'}", SUBJECT_MAX)


def _also(msg: AlertMessage) -> str:
    others = ", ".join(_line(o, 100) for o in msg.also_reported_by[:ALSO_REPORTED_MAX])
    extra = len(msg.also_reported_by) - ALSO_REPORTED_MAX
    return others + (f" and {extra} more" if extra > 0 else "")


def email_text(msg: AlertMessage) -> str:
    """The text/plain part. No escaping is needed, but every string is cleaned and capped."""
    titles = ", ".join(msg.watch_title(m.watch) for m in msg.matches)
    out = [
        _line(f"{kind_label(msg)}: {titles}" if titles else kind_label(msg), 300),
        "",
        _line(msg.headline, HEADLINE_MAX) or "(untitled)",
        _line(msg.url, 2000),
        f"{_line(msg.outlet, 200) or 'unknown outlet'} · {format_when(msg.published_at)}",
    ]
    if msg.also_reported_by:
        out.append(f"Also reported by {_also(msg)}")
    if clean(msg.lead):
        out += ["", _line(msg.lead, LEAD_MAX)]
    if msg.matches:
        out += ["", "Why it matched"]
    for m in msg.matches:
        out.append(f"- {_line(msg.watch_title(m.watch), 200)}: {format_score(m)}")
        if m.terms:
            out.append("  terms: " + ", ".join(_line(t, 100) for t in m.terms[:TERMS_PER_WATCH]))
        out += [f"  > {_line(e.sentence, EVIDENCE_MAX)}" for e in m.evidence[:EVIDENCE_PER_WATCH]]
    if msg.previously:
        out += ["", "Previously in this storyline"]
        for prev in msg.previously[:PREVIOUS_MAX]:
            out.append(f"- {format_when(prev.seen_at)}: {_line(prev.headline, 200)}")
            out.append(f"  {_line(prev.url, 2000)}")
    out += ["", "-- ", f"newswatch alert #{msg.alert_id}"]
    return "\n".join(out) + "\n"


def _h(text: str, limit: int) -> str:
    return escape(_line(text, limit), quote=True)


def _a(url: str, text: str, limit: int) -> str:
    """A link for http(s) URLs only; anything else is shown as escaped text."""
    label = _h(text, limit) or _h(url, 2000) or "(untitled)"
    if not is_http_url(url):
        return label
    return f'<a href="{escape(url, quote=True)}">{label}</a>'


def email_html(msg: AlertMessage) -> str:
    """The text/html part: simple inline-styled markup, every string escaped."""
    titles = ", ".join(msg.watch_title(m.watch) for m in msg.matches)
    label = f"{kind_label(msg)}: {titles}" if titles else kind_label(msg)
    meta = f"{_h(msg.outlet, 200) or 'unknown outlet'} · {format_when(msg.published_at)}"
    if msg.also_reported_by:
        meta += f" · also reported by {escape(_also(msg), quote=True)}"
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>',
        '<body style="font-family: sans-serif; line-height: 1.4">',
        f'<p style="color: #555">{_h(label, 300)}</p>',
        f'<h2 style="margin: 0 0 4px 0">{_a(msg.url, msg.headline, HEADLINE_MAX)}</h2>',
        f'<p style="color: #555; margin-top: 0">{meta}</p>',
    ]
    if clean(msg.lead):
        parts.append(f"<p>{_h(msg.lead, LEAD_MAX)}</p>")
    if msg.matches:
        parts.append("<h3>Why it matched</h3><ul>")
    for m in msg.matches:
        item = f"<li><b>{_h(msg.watch_title(m.watch), 200)}</b>: {escape(format_score(m))}"
        if m.terms:
            terms = ", ".join(_h(t, 100) for t in m.terms[:TERMS_PER_WATCH])
            item += f"<br>terms: {terms}"
        for e in m.evidence[:EVIDENCE_PER_WATCH]:
            item += (
                '<blockquote style="margin: 4px 0 4px 8px; padding-left: 8px; '
                f'border-left: 3px solid #ccc">{_h(e.sentence, EVIDENCE_MAX)}</blockquote>'
            )
        parts.append(item + "</li>")
    if msg.matches:
        parts.append("</ul>")
    if msg.previously:
        parts.append("<h3>Previously in this storyline</h3><ul>")
        for prev in msg.previously[:PREVIOUS_MAX]:
            link = _a(prev.url, prev.headline, 200)
            parts.append(f"<li>{format_when(prev.seen_at)}: {link}</li>")
        parts.append("</ul>")
    parts.append(f'<p style="color: #888">newswatch alert #{msg.alert_id}</p></body></html>')
    return "\n".join(parts) + "\n"
