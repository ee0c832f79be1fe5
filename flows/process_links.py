"""Fetch, extract and store a run's new links in overlapping batches.

No Prefect here: the monitor flow passes its store task in as `store`, the orchestration
benchmark a plain call of `store_batch`, so both run the same loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from extractors.http import Fetcher
from flows.extract_worker import ExtractPool
from flows.jobs import ExtractResult
from flows.pipeline import BatchResult, SourceOutcome, StoryContext
from flows.stream import LinkJob, PageStream
from flows.timings import StageTimer
from newswatch.config import Settings

# Pages per batch: a store call (and a commit) per batch, and at most three batches of pages
# in memory at once (one fetched ahead, one being fetched, one being extracted).
BATCH_SIZE = 50

# Up to this many pages, extraction in the flow's own process beats starting a pool.
POOL_MIN_PAGES = 12

FetchFailure = tuple[str, str, str]  # source, link, reason
# Stores one batch: its extraction results, its fetch failures, the run's story context and
# its document-frequency memory (both shared by every batch of the run).
StoreBatch = Callable[
    [list[ExtractResult], list[FetchFailure], StoryContext, dict[str, int]],
    Coroutine[Any, Any, BatchResult],
]
# Called after each stored batch with the links done and the links of the run.
ProgressHook = Callable[[int, int], Awaitable[None]]


async def process_links(
    outcomes: Sequence[SourceOutcome],
    fetcher: Fetcher,
    settings: Settings,
    store: StoreBatch,
    timer: StageTimer,
    progress: ProgressHook,
    warn: Callable[[str], None],
) -> dict[str, dict[str, int]]:
    """Fetch, extract and store the new links, batch by batch, the three overlapping: while
    the workers extract batch k, batch k-1 is stored (in a thread) and batch k+1 fetched.
    Returns the stored counts per source."""
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
                    asyncio.create_task(store(results, failures, context, term_memory)),
                    len(fetched.jobs) + len(failures),
                )
            await finish_store()
            if pool.fallback_reason:
                warn(pool.fallback_reason)
    finally:
        if storing is not None:
            # An error left a batch being stored in a thread: let its transaction end before
            # the database is disposed of. The error itself is the one to report.
            with contextlib.suppress(Exception):
                await storing[0]
    return {name: dict(c) for name, c in counts.items()}
