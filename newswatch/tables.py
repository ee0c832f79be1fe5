"""Rich tables for the CLI's listings and the run summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from newswatch.config import Settings
from storage import repo
from storage.db import Database


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


SUMMARY_COLUMNS = (
    # (header, key in a source row); few, short columns keep the table whole at 80 columns.
    # New links are fetched + failed; the JSON summary has every count.
    ("fetched", "fetched"),
    ("failed", "page_failures"),
    ("stored", "stored"),
    ("dupes", "duplicates"),
    ("matched", "matched"),
    ("alerts", "alerts"),
)
STATUS_TEXT = {
    "ok": "[green]ok[/green]",
    "failed": "[red]failed[/red]",
    "not_modified": "304",
    "skipped": "[yellow]skipped[/yellow]",
}


def _when_iso(value: str | None) -> str:
    """An ISO time from a run summary, as the tables show times (UTC)."""
    return _when(datetime.fromisoformat(value)) + " UTC" if value else "-"


def _failure_text(kind: str | None, error: str | None) -> str:
    return f"{kind}: {error}" if kind else str(error)


def summary_table(summary: dict[str, Any]) -> Table:
    """Per source: polled with what outcome, and what came of its pages."""
    table = Table(
        title="newswatch run summary", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("source", min_width=14, overflow="fold")
    table.add_column("status", no_wrap=True)
    for header, _ in SUMMARY_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for name, row in summary["sources"].items():
        table.add_row(
            escape(name),
            STATUS_TEXT.get(row["status"], row["status"]),
            *(str(row[key]) for _, key in SUMMARY_COLUMNS),
        )
    totals, deliveries = summary["totals"], summary["deliveries"]
    table.add_section()
    table.add_row(
        f"total: {totals['sources']} sources, {totals['sources_failed']} failed"
        + (f", {totals['sources_skipped']} backing off" if totals.get("sources_skipped") else ""),
        "",
        *(str(totals[key]) for _, key in SUMMARY_COLUMNS),
    )
    failures = [
        line
        for name, row in summary["sources"].items()
        if (line := _source_problem(name, row)) is not None
    ]
    table.caption = "\n".join(
        [
            f"alerts delivered: {deliveries.get('sent', 0)} sent, "
            f"{deliveries.get('retrying', 0)} to retry, {deliveries.get('failed', 0)} failed",
            *failures,
        ]
    )
    table.caption_justify = "left"
    return table


def _source_problem(name: str, row: dict[str, Any]) -> str | None:
    """A caption line for a failed source (reason, kind, next poll) or one backing off."""
    failure = escape(_failure_text(row.get("error_kind"), row["error"]))
    if row["status"] == "failed":
        later = row.get("next_poll_at")
        return f"[red]{escape(name)}[/red]: {failure}" + (
            f" (next poll after {_when_iso(later)})" if later else ""
        )
    if row["status"] == "skipped":
        return (
            f"[yellow]{escape(name)}[/yellow]: backing off until "
            f"{_when_iso(row['next_poll_at'])} after {row['consecutive_failures']} failure(s) "
            f"in a row (last: {failure})"
        )
    return None


def sources_table(settings: Settings) -> Table:
    db = Database(settings.database_url)
    db.create_all()
    with db.session() as session:
        rows = {row.name: row for row in repo.list_sources(session)}
        counts = repo.source_article_counts(session)
    db.dispose()
    table = Table(title=f"sources ({db.display_url})", title_justify="left")
    for column in (
        "name",
        "kind",
        "enabled",
        "last polled",
        "status",
        "failures",
        "next poll",
        "articles",
        "last error / url",
    ):
        table.add_column(column)
    now = datetime.now(UTC)
    for source in settings.sources.values():
        row = rows.get(source.name)
        if row is not None and row.last_error:
            detail = _failure_text(row.last_error_kind, row.last_error)
        else:
            detail = source.url
        table.add_row(
            escape(source.name),
            source.kind,
            "yes" if source.enabled else "no",
            _when(row.last_polled_at) if row else "never",
            (row.last_status or "-") if row else "-",
            str(row.consecutive_failures) if row else "0",
            _next_poll(row.next_poll_at if row else None, now),
            str(counts.get(source.name, 0)),
            escape(detail[:160]),
        )
    return table


def _next_poll(when: datetime | None, now: datetime) -> str:
    """When a source may be polled again: "next run" unless it is backing off."""
    if when is None or when <= now:
        return "next run"
    return f"[yellow]after {_when(when)}[/yellow]"


def articles_table(settings: Settings, *, watch: str | None, limit: int) -> Table:
    db = Database(settings.database_url)
    db.create_all()
    table = Table(title="articles, newest first", title_justify="left")
    table.add_column("title", ratio=3, overflow="fold")
    table.add_column("watches", ratio=1)
    table.add_column("outcome", ratio=1)
    table.add_column("source", ratio=1, overflow="fold")
    table.add_column("stored", no_wrap=True)
    with db.session() as session:
        rows = repo.list_articles(session, watch=watch, limit=limit)
        alerted = repo.alerted_article_ids(session, [row.id for row in rows])
        for article in rows:
            watches = "\n".join(f"{m.watch} {m.score:.1f}" for m in article.matches) or "-"
            if article.id in alerted:
                outcome = f"[bold]alerted[/bold] (story {article.story_id})"
            elif article.duplicate_of_id:
                outcome = f"copy of #{article.duplicate_of_id}, story {article.story_id}"
            else:
                outcome = "stored" if not article.matches else f"story {article.story_id}"
            table.add_row(
                f"[link={escape(article.canonical_url)}]{escape(article.title)}[/link]",
                watches,
                outcome,
                escape(article.source),
                article.stored_at.strftime("%m-%d %H:%M"),
            )
    db.dispose()
    return table


def alerts_table(settings: Settings, *, watch: str | None, status: str | None, limit: int) -> Table:
    db = Database(settings.database_url)
    db.create_all()
    table = Table(title="alerts, newest first", title_justify="left")
    for column in ("created", "kind", "watches", "headline", "deliveries"):
        table.add_column(column)
    with db.session() as session:
        for alert in repo.list_alerts(session, watch=watch, status=status, limit=limit):
            deliveries = "; ".join(
                f"#{d.id} {d.channel}: {d.status}"
                + (f" ({escape(d.last_error[:80])})" if d.last_error else "")
                for d in alert.deliveries
            )
            table.add_row(
                _when(alert.created_at),
                alert.kind,
                ", ".join(alert.watches),
                escape(alert.article.title[:90]),
                deliveries or "-",
            )
    db.dispose()
    return table


def stories_table(settings: Settings, *, watch: str | None, limit: int) -> Table:
    """Stories, most recently seen first: headline, outlets, articles, first/last seen."""
    db = Database(settings.database_url)
    db.create_all()
    table = Table(title="stories, most recent first", title_justify="left")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("headline", ratio=3, overflow="fold")
    table.add_column("outlets", ratio=2, overflow="fold")
    table.add_column("articles", justify="right")
    table.add_column("first seen", no_wrap=True)
    table.add_column("last seen", no_wrap=True)
    table.add_column("watches")
    table.add_column("storyline", justify="right")
    with db.session() as session:
        for story, outlets in repo.list_stories(session, watch=watch, limit=limit):
            table.add_row(
                str(story.id),
                f"[link={escape(story.url)}]{escape(story.headline)}[/link]"
                if story.url
                else escape(story.headline),
                escape(", ".join(outlets)),
                str(story.article_count),
                _when(story.first_seen_at),
                _when(story.last_seen_at),
                ", ".join(story.watches) or "-",
                str(story.storyline_id or "-"),
            )
    db.dispose()
    return table


def story_view(settings: Settings, story_id: int) -> Group | None:
    """One story: its articles (outlet, date, copy or original) and its storyline."""
    db = Database(settings.database_url)
    db.create_all()
    with db.session() as session:
        detail = repo.story_detail(session, story_id)
        if detail is None:
            db.dispose()
            return None
        story = detail.story
        head = Text.from_markup(
            f"[bold]story {story.id}[/bold]: {escape(story.headline)}\n"
            f"{story.article_count} article(s) from {escape(', '.join(detail.outlets) or '-')}; "
            f"first seen {_when(story.first_seen_at)}, last seen {_when(story.last_seen_at)}; "
            f"watches: {', '.join(story.watches) or '-'}; "
            + (f"alerted {_when(detail.alerted_at)}" if detail.alerted_at else "not alerted")
        )
        articles = Table(title="articles", title_justify="left")
        for column in ("published", "outlet", "title", "kind"):
            articles.add_column(column, overflow="fold")
        for article in detail.articles:
            kind = f"copy of #{article.duplicate_of_id}" if article.duplicate_of_id else "report"
            if article.revisions:
                kind += f", updated {article.revisions}x"
            articles.add_row(
                _when(article.event_at or article.published_at),
                escape(article.sitename or article.source),
                f"[link={escape(article.canonical_url)}]{escape(article.title)}[/link]",
                kind,
            )
        line = Table(
            title=f"storyline {story.storyline_id or '-'}: {len(detail.storyline)} story(ies)",
            title_justify="left",
        )
        for column in ("id", "first seen", "headline", "articles", "watches"):
            line.add_column(column, overflow="fold")
        for other in detail.storyline:
            marker = "[bold]" if other.id == story.id else ""
            line.add_row(
                f"{marker}{other.id}",
                _when(other.first_seen_at),
                f"{marker}{escape(other.headline)}",
                str(other.article_count),
                ", ".join(other.watches) or "-",
            )
    db.dispose()
    return Group(head, articles, line)
