"""Artifacts of a monitor run, under stable keys so the Prefect UI keeps their history.

- ``monitor-summary`` (table): one row per source: status, links polled, new links,
  pages fetched, failed (with the reason), stored, matched, alerts.
- ``monitor-new-stories`` (markdown): the stories this run alerted on, headline linked,
  outlet, watch, score and evidence; page-derived text escaped, secrets scrubbed.
- ``monitor-progress`` (progress): articles processed out of those fetched, updated as the
  run goes (``RunProgress.update`` can be called once per batch).

An artifact that cannot be written costs a warning, never the run: the alerts are the
product, the artifacts a view of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.exceptions import MissingContextError

from alerts.render_markdown import md_escape
from flows.pipeline import RunSummary
from flows.redaction import md_link, scrub, settings_secrets
from newswatch.config import Settings
from storage import repo
from storage.db import Database
from storage.models import Alert

SUMMARY_KEY = "monitor-summary"
NEW_STORIES_KEY = "monitor-new-stories"
PROGRESS_KEY = "monitor-progress"
MAX_EVIDENCE = 2


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called outside a run (a script, the benchmark)
        return logging.getLogger("newswatch.artifacts")


class RunProgress:
    """The run's progress artifact: created once, then updated in place."""

    def __init__(self, key: str = PROGRESS_KEY) -> None:
        self.key = key
        self.artifact_id: UUID | None = None
        self.total = 0

    async def start(self, total: int = 0) -> None:
        self.total = total
        try:
            self.artifact_id = await acreate_progress_artifact(
                0.0, key=self.key, description=_progress_text(0, total)
            )
        except Exception as exc:
            _logger().warning("progress artifact not created: %s", exc)

    async def update(self, done: int, total: int) -> None:
        """`done` of `total` articles processed (no articles at all counts as complete)."""
        self.total = total
        if self.artifact_id is None:
            return
        percent = 100.0 if total <= 0 else min(100.0, 100.0 * done / total)
        try:
            await aupdate_progress_artifact(
                self.artifact_id, percent, description=_progress_text(done, total)
            )
        except Exception as exc:
            _logger().warning("progress artifact not updated: %s", exc)

    async def finish(self) -> None:
        """The run is past extraction and storage: 100 %, whatever the batches reported."""
        await self.update(self.total, self.total)


def _progress_text(done: int, total: int) -> str:
    return f"{done} of {total} fetched articles processed"


def summary_rows(summary: RunSummary, secrets: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per source, most troubled first; reasons scrubbed of secrets."""
    rows = []
    for name, row in summary.sources.items():
        reason = ""
        if row["status"] in {"failed", "skipped"} and row["error"]:
            reason = f"{row['error_kind']}: {row['error']}"
        elif row["failure_examples"]:
            reason = "; ".join(row["failure_examples"])
        rows.append(
            {
                "source": name,
                "status": row["status"],
                "polled": row["status"] in {"ok", "not_modified", "failed"},
                "links": row["links"],
                "new_links": row["new_links"],
                "fetched": row["fetched"],
                "failed": row["page_failures"],
                "reason": scrub(reason, secrets)[:500],
                "stored": row["stored"],
                "matched": row["matched"],
                "alerts": row["alerts"],
            }
        )
    order = {"failed": 0, "skipped": 1, "ok": 2, "not_modified": 3}
    return sorted(rows, key=lambda r: (order.get(r["status"], 9), r["source"]))


def new_stories_markdown(alerts: Sequence[Alert], secrets: Sequence[str] = ()) -> str:
    """The alerted stories as Markdown; every page-derived string escaped."""
    if not alerts:
        return "# New stories\n\nNo new story or development alerted in this run.\n"
    lines = [f"# New stories ({len(alerts)})", ""]
    for alert in alerts:
        article = alert.article
        outlet = article.sitename or article.source
        kind = "development" if alert.kind == "development" else "new story"
        lines.append(f"## {md_link(article.title, article.url, secrets)}")
        lines.append("")
        lines.append(f"{md_escape(scrub(outlet, secrets))} · {kind} · alert \\#{alert.id}")
        lines.append("")
        matches = {m.watch: m for m in article.matches}
        for watch in alert.watches:
            match = matches.get(watch)
            if match is None:
                lines.append(f"- **{md_escape(watch)}**")
                continue
            lines.append(
                f"- **{md_escape(watch)}**: score {match.score:.2f} "
                f"(threshold {match.threshold:.2f}); terms: "
                + md_escape(", ".join(str(t) for t in match.terms))
            )
            for item in match.evidence[:MAX_EVIDENCE]:
                sentence = item.get("sentence", "") if isinstance(item, dict) else str(item)
                lines.append(f"  > {md_escape(scrub(sentence, secrets))}")
        lines.append("")
    return "\n".join(lines)


def warning_line(summary: RunSummary) -> str | None:
    """One line naming the failed sources, or None when every polled source answered."""
    failed = [(n, r) for n, r in summary.sources.items() if r["status"] == "failed"]
    if not failed:
        return None
    names = ", ".join(f"{name} ({row['error_kind']})" for name, row in failed)
    return f"{len(failed)} of {len(summary.sources)} sources failed: {names}"


async def publish_run_artifacts(
    summary: RunSummary, db: Database, settings: Settings, progress: RunProgress | None = None
) -> None:
    """The summary table and new-stories markdown of this run; a warning if sources failed."""
    logger = _logger()
    secrets = settings_secrets(settings)
    warning = warning_line(summary)
    if warning:
        logger.warning("run completed with failures: %s", scrub(warning, secrets))
    if progress is not None:
        await progress.finish()
    try:
        with db.session() as session:
            alerts = repo.alerts_created_since(session, summary.started_at)
            markdown = new_stories_markdown(alerts, secrets)
        await acreate_table_artifact(
            summary_rows(summary, secrets),
            key=SUMMARY_KEY,
            description=scrub(warning or "every polled source answered", secrets),
        )
        await acreate_markdown_artifact(
            markdown, key=NEW_STORIES_KEY, description=f"{len(alerts)} story alert(s)"
        )
    except Exception as exc:
        logger.warning("run artifacts not published: %s", scrub(str(exc), secrets))
