"""The `digest` flow: one message per channel summarising the period's stories per watch.

Daily by default (deployment `digest` in prefect.yaml). Stories are ranked most covered
first (articles, then outlets), and list the articles that did not alert on their own.
The digest is also published as a Markdown artifact (key ``newswatch-digest``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from alerts.digest import Digest, collect_digest
from alerts.digest_delivery import deliver_digest
from alerts.render_digest import digest_markdown, digest_title
from flows.failures import fails_clearly
from flows.run_names import run_namer
from flows.secrets import resolve_channel_secrets
from newswatch.config import Settings, load_settings
from storage.db import Database

ARTIFACT_KEY = "newswatch-digest"


def digest_channels(settings: Settings) -> dict[str, Any]:
    """The channels the digest goes to: ``alerts.digest_channels``, or every channel."""
    names = settings.alerts.digest_channels
    if names is None:
        return dict(settings.channels)
    unknown = sorted(set(names) - set(settings.channels))
    if unknown:
        raise ValueError(f"alerts.digest_channels names unknown channels: {', '.join(unknown)}")
    return {name: settings.channels[name] for name in names}


def watch_titles(settings: Settings) -> dict[str, str]:
    return {name: spec.title for name, spec in settings.watches.items() if spec.enabled}


@task(name="collect-digest", cache_policy=NO_CACHE, persist_result=False)
def collect(settings: Settings, since: datetime, until: datetime) -> Digest:
    db = Database(settings.database_url)
    try:
        db.create_all()
        with db.session() as session:
            return collect_digest(
                session,
                since=since,
                until=until,
                watch_titles=watch_titles(settings),
                max_stories=settings.alerts.digest_max_stories,
            )
    finally:
        db.dispose()


@task(name="send-digest", cache_policy=NO_CACHE, persist_result=False)
def send(digest: Digest, settings: Settings) -> dict[str, str]:
    logger = get_run_logger()
    channels = resolve_channel_secrets(digest_channels(settings), warn=logger.warning)
    results = {}
    for outcome in deliver_digest(digest, channels):
        if outcome.sent:
            results[outcome.channel] = "sent"
        else:
            results[outcome.channel] = f"failed: {outcome.error}"
            logger.warning("digest not delivered: %s", outcome.error)
    return results


@flow(name="digest", flow_run_name=run_namer("digest"), log_prints=False)
@fails_clearly("digest")
def digest(config_path: str | None = None, period_hours: int = 24) -> dict[str, Any]:
    """Summarise the last ``period_hours`` of matched stories and send it to the channels."""
    if not 1 <= period_hours <= 24 * 31:
        raise ValueError("period_hours must be between 1 and 744 (31 days)")
    logger = get_run_logger()
    settings = load_settings(config_path)
    until = datetime.now(UTC)
    since = until - timedelta(hours=period_hours)
    summary = collect(settings, since, until)
    create_markdown_artifact(
        markdown=digest_markdown(summary),
        key=ARTIFACT_KEY,
        description=f"newswatch digest, last {period_hours} h",
    )
    logger.info(digest_title(summary))
    delivered = send(summary, settings)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "stories": summary.story_count,
        "articles": summary.article_count,
        "channels": delivered,
    }
