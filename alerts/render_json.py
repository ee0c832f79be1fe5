"""The JSON document the generic ``webhook`` channel POSTs for an alert.

Schema ``newswatch.alert.v1`` (documented in the README, section "Alerts")::

    {"schema": "newswatch.alert.v1", "alert_id": 42, "kind": "new_story" | "development",
     "headline": str, "url": str, "outlet": str, "published_at": ISO-8601 | null,
     "lead": str, "also_reported_by": [str],
     "watches": [{"watch": str, "title": str, "score": float, "threshold": float,
                  "terms": [str], "evidence": [str]}],
     "previously": [{"headline": str, "url": str, "seen_at": ISO-8601}],
     "text": str}

Strings are cleaned (one line, no control characters) and capped, but not escaped: JSON
carries them safely, and the receiver escapes them for whatever it renders into.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .message import AlertMessage
from .text import (
    EVIDENCE_MAX,
    EVIDENCE_PER_WATCH,
    HEADLINE_MAX,
    LEAD_MAX,
    PREVIOUS_MAX,
    clean,
    kind_label,
    truncate,
)

ALERT_SCHEMA = "newswatch.alert.v1"


def _s(text: str, limit: int) -> str:
    return truncate(clean(text), limit)


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def alert_document(msg: AlertMessage) -> dict[str, Any]:
    """The ``newswatch.alert.v1`` document for ``msg`` (JSON-serialisable)."""
    titles = ", ".join(msg.watch_title(m.watch) for m in msg.matches)
    return {
        "schema": ALERT_SCHEMA,
        "alert_id": msg.alert_id,
        "kind": msg.kind,
        "headline": _s(msg.headline, HEADLINE_MAX),
        "url": _s(msg.url, 2000),
        "outlet": _s(msg.outlet, 200),
        "published_at": iso(msg.published_at),
        "lead": _s(msg.lead, LEAD_MAX),
        "also_reported_by": [_s(o, 200) for o in msg.also_reported_by],
        "watches": [
            {
                "watch": m.watch,
                "title": _s(msg.watch_title(m.watch), 200),
                "score": round(m.score, 4),
                "threshold": round(m.threshold, 4),
                "terms": [_s(t, 100) for t in m.terms],
                "evidence": [_s(e.sentence, EVIDENCE_MAX) for e in m.evidence[:EVIDENCE_PER_WATCH]],
            }
            for m in msg.matches
        ],
        "previously": [
            {"headline": _s(p.headline, 300), "url": _s(p.url, 2000), "seen_at": iso(p.seen_at)}
            for p in msg.previously[:PREVIOUS_MAX]
        ],
        "text": _s(f"{kind_label(msg)}: {msg.headline} ({msg.outlet}) · {titles}", 1000),
    }
