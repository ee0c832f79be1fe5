"""Rich tables for the CLI's listings and the run summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from newswatch.config import Settings
from storage import repo
from storage.db import Database


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="newswatch run summary", title_justify="left")
    for column in (
        "source",
        "status",
        "links",
        "new",
        "fetched",
        "failed",
        "stored",
        "dupes",
        "matched",
        "alerts",
    ):
        table.add_column(column, justify="left" if column in {"source", "status"} else "right")
    for name, row in summary["sources"].items():
        status = {"failed": "[red]failed[/red]", "not_modified": "not modified"}.get(
            row["status"], "[green]ok[/green]"
        )
        table.add_row(
            escape(name),
            status,
            str(row["links"]),
            str(row["new_links"]),
            str(row["fetched"]),
            str(row["page_failures"]),
            str(row["stored"]),
            str(row["duplicates"]),
            str(row["matched"]),
            str(row["alerts"]),
        )
    totals, deliveries = summary["totals"], summary["deliveries"]
    table.add_section()
    table.add_row(
        f"{totals['sources']} sources",
        f"{totals['sources_failed']} failed",
        "",
        str(totals["new_links"]),
        str(totals["fetched"]),
        str(totals["page_failures"]),
        str(totals["stored"]),
        str(totals["duplicates"]),
        str(totals["matched"]),
        str(totals["alerts"]),
    )
    failures = [
        f"[red]{escape(name)}[/red]: {escape(str(row['error']))}"
        for name, row in summary["sources"].items()
        if row["status"] == "failed"
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
        "articles",
        "last error / url",
    ):
        table.add_column(column)
    for source in settings.sources.values():
        row = rows.get(source.name)
        table.add_row(
            escape(source.name),
            source.kind,
            "yes" if source.enabled else "no",
            _when(row.last_polled_at) if row else "never",
            (row.last_status or "-") if row else "-",
            str(row.consecutive_failures) if row else "0",
            str(counts.get(source.name, 0)),
            escape((row.last_error if row and row.last_error else source.url)[:120]),
        )
    return table


def articles_table(settings: Settings, *, watch: str | None, limit: int) -> Table:
    db = Database(settings.database_url)
    db.create_all()
    table = Table(title="articles, newest first", title_justify="left")
    for column in ("stored", "source", "title", "watches", "story"):
        table.add_column(column)
    with db.session() as session:
        for article in repo.list_articles(session, watch=watch, limit=limit):
            watches = ", ".join(f"{m.watch} {m.score:.1f}" for m in article.matches) or "-"
            story = str(article.story_id or "-")
            if article.duplicate_of_id:
                story += f" (copy of #{article.duplicate_of_id})"
            table.add_row(
                _when(article.stored_at),
                escape(article.source),
                f"[link={escape(article.canonical_url)}]{escape(article.title[:90])}[/link]",
                watches,
                story,
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
                f"{d.channel}: {d.status}"
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
