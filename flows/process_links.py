"""Fetch, extract and store a run's new links in overlapping batches.

No Prefect here: the monitor flow passes its store task in as `store`, the orchestration
benchmark a plain call of `store_batch`, so both run the same loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from extractors.http import Fetcher
from flows.extract_worker import ExtractPool
from flows.jobs import ExtractResult
from flows.pipeline import BatchResult, SourceOutcome, StoryContext
from flows.stream import LinkJob, PageStream
from flows.timings import StageTimer
from newswatch.config import Settings

# Pages fetched per batch; at most four batches of pages are in memory at once (one being
# fetched, one fetched ahead, two queued or being extracted in the workers). With the next
# batch queued in the pool the workers never wait between batches, so a smaller batch costs
# no throughput: 25 instead of 50 took ~18 MB off the flow's peak at the same CPU.
BATCH_SIZE = 25

# Articles per store call (a Prefect task run and a commit): extracted articles are small
# beside their pages, and each task run costs Prefect's API server ~40 ms of CPU.
STORE_SIZE = 200

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
    """Fetch, extract and store the new links, the three overlapping: batch k+1 is fetched
    while the workers extract batch k (with batch k+1 queued behind it, so no worker waits
    between batches) and the articles extracted before are stored, in a thread.
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
    extracting: deque[tuple[asyncio.Task[list[ExtractResult]], list[FetchFailure]]] = deque()
    results: list[ExtractResult] = []  # extracted, waiting to be stored
    failures: list[FetchFailure] = []  # fetch failures, recorded with them
    storing: tuple[asyncio.Task[BatchResult], int] | None = None  # the store call, its links

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

    async def collect(up_to: int) -> None:
        """Take extraction results until `up_to` batches are left in the pool; store them
        once there are STORE_SIZE (and what is left at the end)."""
        nonlocal results, failures, storing
        while len(extracting) > up_to:
            task, batch_failures = extracting.popleft()
            results += await task
            failures += batch_failures
            if len(results) + len(failures) >= STORE_SIZE or not extracting:
                await finish_store()
                storing = (
                    asyncio.create_task(store(results, failures, context, term_memory)),
                    len(results) + len(failures),
                )
                results, failures = [], []

    try:
        async with ExtractPool(workers, settings.watches) as pool:
            async for fetched in PageStream(fetcher, links, batch_size=BATCH_SIZE):
                timer.add("fetch", fetched.seconds)
                for link, reason in fetched.failures:
                    by_name[link.source].fetch_failures.append((link.url, reason))
                for job in fetched.jobs:
                    by_name[job.source].fetched += 1
                extracting.append(
                    (
                        asyncio.create_task(pool.extract(fetched.jobs)),
                        [(link.source, link.url, reason) for link, reason in fetched.failures],
                    )
                )
                await collect(up_to=1)
            await collect(up_to=0)
            await finish_store()
            if pool.fallback_reason:
                warn(pool.fallback_reason)
    finally:
        for task, _ in extracting:  # left by an error: not waited for
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if storing is not None:
            # An error left a batch being stored in a thread: let its transaction end before
            # the database is disposed of. The error itself is the one to report.
            with contextlib.suppress(Exception):
                await storing[0]
    return {name: dict(c) for name, c in counts.items()}
