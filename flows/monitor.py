"""The `monitor` flow: poll sources, fetch new pages, extract, classify, store, alert.

Tasks are coarse on purpose (one per source, one per batch): each task run costs Prefect
tens of milliseconds, so nothing here runs a task per article.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run as prefect_task_run

from alerts.outbox import RetryPolicy, deliver_pending
from extractors.extract import ExtractionError, extract_article
from extractors.http import Fetcher, FetchError
from extractors.links import LinkDiscoveryError
from flows.artifacts import RunProgress, publish_run_artifacts
from flows.backoff import due_sources, failure_backoff
from flows.failures import fails_clearly
from flows.pipeline import (
    ExtractResult,
    PageJob,
    RunSummary,
    SourceOutcome,
    discover,
    fetch_policy,
    store_batch,
)
from flows.run_names import run_namer
from flows.secrets import resolve_channel_secrets
from newswatch.config import Settings, SourceConfig, load_settings
from storage import repo
from storage.db import Database

# Up to this many pages, extraction in the flow's own process beats starting a pool.
POOL_MIN_PAGES = 12


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


@task(name="extract-batch", cache_policy=NO_CACHE, persist_result=False)
async def extract_batch(jobs: Sequence[PageJob], workers: int) -> list[ExtractResult]:
    """Main text and metadata of every page; CPU-bound, so spread over processes."""
    if len(jobs) < POOL_MIN_PAGES or workers < 2:
        return [_extract_one(job) for job in jobs]
    loop = asyncio.get_running_loop()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            return list(
                await asyncio.gather(
                    *(loop.run_in_executor(pool, _extract_one, job) for job in jobs)
                )
            )
    except (BrokenProcessPool, RuntimeError) as exc:
        # Spawned workers re-import the caller's main module; a script without a
        # `__main__` guard cannot start them. Slower in one process beats no run at all.
        get_run_logger().warning("extraction pool unavailable (%s); extracting in-process", exc)
        return [_extract_one(job) for job in jobs]


def _extract_one(job: PageJob) -> ExtractResult:
    try:
        article = extract_article(
            job.page.content,
            url=job.page.url,
            source=job.source,
            fetched_at=job.fetched_at,
            content_type=job.page.content_type,
        )
    except ExtractionError as exc:
        return ExtractResult(job=job, article=None, error=str(exc))
    except Exception as exc:  # one malformed page must not cost the batch its other pages
        return ExtractResult(job=job, article=None, error=f"extraction failed: {exc!r}")
    return ExtractResult(job=job, article=article, error=None)


@task(name="store-batch", cache_policy=NO_CACHE, persist_result=False)
def store_articles(
    results: Sequence[ExtractResult], db: Database, settings: Settings, source_ids: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Deduplicate, classify and store; queue an alert per new matching story."""
    batch = store_batch(results, db, settings, source_ids)
    logger = get_run_logger()
    for error in batch.errors:
        logger.error("could not store %s", error)
    return batch.per_source


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
    logger = get_run_logger()
    progress = RunProgress()
    await progress.start()
    settings = load_settings(config_path)
    db = Database(settings.database_url)
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

        claimed: set[str] = set()  # links being fetched in this run, shared by the polls
        poll = poll_source.with_options(retry_delay_seconds=settings.pipeline.poll_retry_delay_s)
        async with Fetcher(fetch_policy(settings.http)) as fetcher:
            polled = await asyncio.gather(
                *(poll(s, fetcher, db, settings, claimed) for s in sources),
                return_exceptions=True,
            )
        outcomes: list[SourceOutcome] = list(waiting)  # reported, not polled
        for source, result in zip(sources, polled, strict=True):
            if isinstance(result, BaseException):
                # A bug met on one source's content must not cost the other sources their run;
                # Prefect has logged its traceback with the failed task.
                if not isinstance(result, Exception):
                    raise result
                result = SourceOutcome.from_error(source.name, result)
            outcomes.append(result)

        jobs = [job for outcome in outcomes for job in outcome.jobs]
        results = await extract_batch(jobs, settings.pipeline.extract_workers) if jobs else []
        per_source = store_articles(results, db, settings, source_ids) if results else {}
        await progress.update(len(results), len(jobs))

        now = datetime.now(UTC)
        with db.session() as session:
            for outcome in outcomes:
                # Validators are saved only now, after the pages they cover are stored, so a
                # crash mid-run makes the next run poll the source again instead of skipping it.
                row = repo.record_poll(
                    session,
                    outcome.name,
                    status=outcome.status,
                    polled_at=now,
                    error=outcome.error,
                    error_kind=outcome.error_kind,
                    etag=outcome.etag,
                    last_modified=outcome.last_modified,
                    backoff=failure_backoff(outcome, settings.http),
                )
                outcome.scheduled(row)
        for outcome in outcomes:
            summary.add_source(outcome, per_source.get(outcome.name, {}))
            logger.log(30 if outcome.status == "failed" else 20, summary.source_line(outcome.name))

        summary.deliveries = deliver_alerts(db, settings)
        summary.finished_at = datetime.now(UTC)
        logger.info(summary.totals_line())
        await publish_run_artifacts(summary, db, settings, progress)
        return summary.as_dict()
    finally:
        db.dispose()
