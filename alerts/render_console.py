"""Console rendering with rich.

Page strings are cleaned (no ESC or other control characters reach the terminal) and are
only ever added to ``Text`` objects as plain text, never passed through the markup parser:
a headline such as ``[bold]x[/bold]`` prints literally. (That is stricter than
``rich.markup.escape``, which mishandles a string ending in a backslash when no tag follows.)
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.style import Style
from rich.text import Text

from .message import AlertMessage
from .text import (
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


def _t(text: str, limit: int) -> str:
    """Cleaned and capped; only ever put into a Text as plain text, never parsed as markup."""
    return truncate(clean(text), limit)


def console_renderable(msg: AlertMessage) -> RenderableType:
    """A Panel with headline, outlet and date, each watch with score and evidence."""
    link = Style(link=msg.url) if is_http_url(msg.url) else Style()
    headline = Text(_t(msg.headline, HEADLINE_MAX) or "(untitled)", style=Style(bold=True) + link)
    meta = Text(f"{_t(msg.outlet, 200) or 'unknown outlet'} · {format_when(msg.published_at)}")
    if msg.also_reported_by:
        meta.append(f" · also reported by {_t(', '.join(msg.also_reported_by), 500)}")
    meta.stylize("dim")
    lines: list[RenderableType] = [headline, meta, Text(_t(msg.url, 2000), style="blue")]
    if clean(msg.lead):
        lines.append(Text(_t(msg.lead, LEAD_MAX)))
    for m in msg.matches:
        line = Text.assemble(
            (_t(msg.watch_title(m.watch), 200), "bold cyan"), f" {format_score(m)}"
        )
        terms = ", ".join(clean(t) for t in m.terms[:TERMS_PER_WATCH])
        if terms:
            line.append(f" terms: {truncate(terms, 800)}", style="dim")
        lines.append(line)
        for e in m.evidence[:EVIDENCE_PER_WATCH]:
            lines.append(Text.assemble("  ", (f"“{_t(e.sentence, EVIDENCE_MAX)}”", "italic")))
    if msg.previously:
        lines.append(Text("Previously in this storyline", style="bold"))
        for prev in msg.previously[:PREVIOUS_MAX]:
            lines.append(Text(f"  {format_when(prev.seen_at)}: {_t(prev.headline, 200)}"))
    titles = ", ".join(msg.watch_title(m.watch) for m in msg.matches)
    title = f"{kind_label(msg)}: {titles}" if titles else kind_label(msg)
    return Panel(
        Group(*lines),
        title=Text(truncate(clean(title), 200), style="bold"),
        subtitle=Text(f"alert #{msg.alert_id}", style="dim"),
        expand=True,
    )
