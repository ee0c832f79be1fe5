"""The `monitor` flow: poll sources, fetch new pages, extract, classify, store, alert.

Tasks are coarse on purpose (one per source, one per batch): each task run costs Prefect
tens of milliseconds, so nothing here runs a task per article.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run as prefect_task_run
from prefect.utilities.annotations import quote

from alerts.outbox import RetryPolicy, deliver_pending
from extractors.http import Fetcher, FetchError
from extractors.links import LinkDiscoveryError
from flows.artifacts import RunProgress, publish_run_artifacts
from flows.backoff import due_sources, record_outcomes
from flows.failures import fails_clearly
from flows.jobs import ExtractResult
from flows.pipeline import (
    BatchResult,
    RunSummary,
    SourceOutcome,
    StoryContext,
    discover,
    fetch_policy,
    store_batch,
)
from flows.process_links import FetchFailure, StoreBatch, process_links
from flows.run_names import run_namer
from flows.secrets import resolve_channel_secrets
from flows.timings import StageTimer
from newswatch.config import Settings, SourceConfig, load_settings
from newswatch.malloc import limit_malloc_arenas
from storage import repo
from storage.db import Database

T = TypeVar("T")

# The fetcher already retries each request with backoff; one more try of the whole poll,
# later, covers an outage of a minute or two without hammering a failing site.
POLL_RETRIES = 1


def _transient(exc: Exception, retry_delay_s: float = 0.0) -> bool:
    """Errors that may pass on their own: timeouts, network errors, 5xx and 429."""
    if isinstance(exc, FetchError):
        if exc.retry_after is not None and exc.retry_after > retry_delay_s:
            return False  # the server asked for a longer pause than a retry would give it
        return exc.kind in {"timeout", "network"} or (
            exc.kind == "http_status" and (exc.status or 0) in {429, 500, 502, 503, 504}
        )
    return False


@task(
    name="poll-source",
    task_run_name="poll-{source.name}",
    retries=POLL_RETRIES,
    retry_delay_seconds=10,
    retry_jitter_factor=0.5,
    cache_policy=NO_CACHE,
    persist_result=False,
)
async def poll_source(
    source: SourceConfig, fetcher: Fetcher, db: Database, settings: Settings, claimed: set[str]
) -> SourceOutcome:
    """Conditional GET of one source, link discovery, then the pages not seen before.

    A transient error is raised while retries remain, so Prefect retries the poll after a
    delay; the last failure, or a permanent one, becomes the source's reported outcome, so
    a broken source costs one log line, not a traceback, and never fails the run.
    """
    try:
        return await discover(source, fetcher, db, settings, claimed)
    except (FetchError, LinkDiscoveryError) as exc:
        retry_delay_s = settings.pipeline.poll_retry_delay_s
        if _transient(exc, retry_delay_s) and prefect_task_run.get_run_count() <= POLL_RETRIES:
            raise
        return SourceOutcome.from_error(source.name, exc)


@task(name="store-batch", cache_policy=NO_CACHE, persist_result=False)
async def store_articles(
    results: Sequence[ExtractResult],
    db: Database,
    settings: Settings,
    source_ids: dict[str, int],
    fetch_failures: Sequence[tuple[str, str, str]] = (),
    context: StoryContext | None = None,
    term_memory: dict[str, int] | None = None,
) -> BatchResult:
    """Deduplicate, classify and store a batch; queue an alert per new matching story.

    The database work runs in a thread, so the flow's event loop keeps fetching the next
    pages meanwhile (and the extraction workers keep extracting)."""
    batch = await asyncio.to_thread(
        store_batch,
        results,
        db,
        settings,
        source_ids,
        fetch_failures=fetch_failures,
        context=context,
        term_memory=term_memory,
    )
    logger = get_run_logger()
    for error in batch.errors:
        logger.error("could not store %s", error)
    return batch


@task(name="deliver-alerts", cache_policy=NO_CACHE, persist_result=False)
def deliver_alerts(db: Database, settings: Settings) -> dict[str, Any]:
    policy = RetryPolicy(
        max_attempts=settings.alerts.max_attempts,
        base_s=settings.alerts.retry_base_s,
        max_s=settings.alerts.retry_max_s,
        lease_s=settings.alerts.claim_lease_s,
    )
    logger = get_run_logger()
    channels = resolve_channel_secrets(settings.channels, warn=logger.warning)
    report = deliver_pending(db, channels, policy)
    for error in report.errors:
        logger.warning("delivery failed: %s", error)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}


@flow(name="monitor", flow_run_name=run_namer("monitor"), log_prints=False)
@fails_clearly("monitor")
async def monitor(config_path: str | None = None, force: bool = False) -> dict[str, Any]:
    """One monitoring pass over every enabled source; returns the run summary.

    Sources backing off after failures are skipped (reported as such) unless `force`.
    """
    limit_malloc_arenas()  # before the run's own threads start (see newswatch/malloc.py)
    logger = get_run_logger()
    progress = RunProgress()
    await progress.start()
    settings = load_settings(config_path)
    db = Database(settings.database_url)
    timer = StageTimer()
    try:
        db.create_all()
        logger.info("database: %s", db.display_url)
        sources = settings.enabled_sources()
        with db.session() as session:
            source_ids = {
                s.name: repo.sync_source(session, s.name, s.kind, s.url, s.enabled).id
                for s in sources
            }
        summary = RunSummary(started_at=datetime.now(UTC))
        sources, waiting = due_sources(db, sources, summary.started_at, force=force)

        async with Fetcher(fetch_policy(settings.http)) as fetcher:
            with timer.time("poll"):
                outcomes = list(waiting) + await _poll_sources(sources, fetcher, db, settings)
            per_source = await process_links(
                outcomes,
                fetcher,
                settings,
                _store_task(db, settings, source_ids),
                timer,
                progress.update,
                logger.warning,
            )

        record_outcomes(db, outcomes, settings.http, datetime.now(UTC))
        for outcome in outcomes:
            summary.add_source(outcome, per_source.get(outcome.name, {}))
            logger.log(30 if outcome.status == "failed" else 20, summary.source_line(outcome.name))

        with timer.time("alert"):
            summary.deliveries = deliver_alerts(db, settings)
        summary.finished_at = datetime.now(UTC)
        summary.stage_seconds = timer.as_dict()
        logger.info(summary.totals_line())
        await publish_run_artifacts(summary, db, settings, progress)
        return summary.as_dict()
    finally:
        db.dispose()


def _store_task(db: Database, settings: Settings, source_ids: dict[str, int]) -> StoreBatch:
    """`process_links`'s store step as a Prefect task run per batch."""

    async def store(
        results: list[ExtractResult],
        failures: list[FetchFailure],
        context: StoryContext,
        term_memory: dict[str, int],
    ) -> BatchResult:
        return await store_articles(
            _opaque(results),
            db,
            settings,
            source_ids,
            failures,
            _opaque(context),
            _opaque(term_memory),
        )

    return store


def _opaque(value: T) -> T:
    """`value`, hidden from Prefect's walk of task parameters (it looks for futures in every
    list, dict and dataclass: milliseconds per article for a batch of articles). The task
    receives the value itself."""
    return cast(T, quote(value))


async def _poll_sources(
    sources: Sequence[SourceConfig], fetcher: Fetcher, db: Database, settings: Settings
) -> list[SourceOutcome]:
    """One poll task per source, all at once; a source that fails is reported, not raised."""
    claimed: set[str] = set()  # links found in this run, shared by the polls
    poll = poll_source.with_options(retry_delay_seconds=settings.pipeline.poll_retry_delay_s)
    polled = await asyncio.gather(
        *(poll(s, fetcher, db, settings, claimed) for s in sources),
        return_exceptions=True,
    )
    outcomes: list[SourceOutcome] = []
    for source, result in zip(sources, polled, strict=True):
        if isinstance(result, BaseException):
            # A bug met on one source's content must not cost the other sources their run;
            # Prefect has logged its traceback with the failed task.
            if not isinstance(result, Exception):
                raise result
            result = SourceOutcome.from_error(source.name, result)
        outcomes.append(result)
    return outcomes
