"""The `monitor` flow: poll sources, fetch new pages, extract, classify, store, alert.

Tasks are coarse on purpose (one per source, one per batch): each task run costs Prefect
tens of milliseconds, so nothing here runs a task per article.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run as prefect_task_run
from prefect.utilities.annotations import quote

from alerts.outbox import RetryPolicy, deliver_pending
from extractors.http import Fetcher, FetchError
from extractors.links import LinkDiscoveryError
from flows.backoff import due_sources, failure_backoff
from flows.extract_worker import ExtractPool
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
from flows.secrets import resolve_channel_secrets
from flows.stream import LinkJob, PageStream
from flows.timings import StageTimer
from newswatch.config import Settings, SourceConfig, load_settings
from storage import repo
from storage.db import Database

T = TypeVar("T")

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


def _run_name() -> str:
    return f"monitor-{datetime.now(UTC):%Y%m%d-%H%M%S}"


# Pages per batch: a store task (and a commit) per batch, and at most three batches of pages
# in memory at once (one fetched ahead, one being fetched, one being extracted).
BATCH_SIZE = 50

ProgressHook = Callable[[int, int], Awaitable[None]]


async def on_batch(done: int, total: int) -> None:
    """Called after each stored batch with the links done and the links of the run.

    A hook for run progress (e.g. a Prefect progress artifact); it does nothing yet."""


@flow(name="monitor", flow_run_name=_run_name, log_prints=False)
async def monitor(config_path: str | None = None, force: bool = False) -> dict[str, Any]:
    """One monitoring pass over every enabled source; returns the run summary.

    Sources backing off after failures are skipped (reported as such) unless `force`.
    """
    logger = get_run_logger()
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
            per_source = await _process_links(
                outcomes, fetcher, db, settings, source_ids, timer, on_batch
            )

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

        with timer.time("alert"):
            summary.deliveries = deliver_alerts(db, settings)
        summary.finished_at = datetime.now(UTC)
        summary.stage_seconds = timer.as_dict()
        logger.info(summary.totals_line())
        return summary.as_dict()
    finally:
        db.dispose()


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


async def _process_links(
    outcomes: Sequence[SourceOutcome],
    fetcher: Fetcher,
    db: Database,
    settings: Settings,
    source_ids: dict[str, int],
    timer: StageTimer,
    progress: ProgressHook,
) -> dict[str, dict[str, int]]:
    """Fetch, extract and store the new links, batch by batch, the three overlapping: while
    the workers extract batch k, batch k-1 is stored (in a thread) and batch k+1 fetched."""
    links = [LinkJob(o.name, url) for o in outcomes for url in o.links_to_fetch]
    if not links:
        return {}
    by_name = {o.name: o for o in outcomes}
    context = StoryContext.from_settings(settings)
    term_memory: dict[str, int] = {}  # document frequencies, read once per run
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    done = 0
    workers = settings.pipeline.extract_workers if len(links) >= POOL_MIN_PAGES else 1
    storing: tuple[asyncio.Task[BatchResult], int] | None = None  # the batch, its links

    async def finish_store() -> None:
        nonlocal done, storing
        if storing is None:
            return
        task, size = storing
        batch = await task
        storing = None
        for name, source_counts in batch.per_source.items():
            counts[name].update(source_counts)
        timer.merge(batch.seconds)
        done += size
        await progress(done, len(links))

    try:
        async with ExtractPool(workers, settings.watches) as pool:
            async for fetched in PageStream(fetcher, links, batch_size=BATCH_SIZE):
                timer.add("fetch", fetched.seconds)
                failures = [(link.source, link.url, reason) for link, reason in fetched.failures]
                for link, reason in fetched.failures:
                    by_name[link.source].fetch_failures.append((link.url, reason))
                for job in fetched.jobs:
                    by_name[job.source].fetched += 1
                results = await pool.extract(fetched.jobs) if fetched.jobs else []
                await finish_store()
                storing = (
                    asyncio.create_task(
                        store_articles(
                            _opaque(results),
                            db,
                            settings,
                            source_ids,
                            failures,
                            _opaque(context),
                            _opaque(term_memory),
                        )
                    ),
                    len(fetched.jobs) + len(failures),
                )
            await finish_store()
            if pool.fallback_reason:
                get_run_logger().warning(pool.fallback_reason)
    finally:
        if storing is not None:
            # An error left a batch being stored in a thread: let its transaction end before
            # the database is disposed of. The error itself is the one to report.
            with contextlib.suppress(Exception):
                await storing[0]
    return {name: dict(c) for name, c in counts.items()}
