"""Pages fetched in bounded batches, the next batch fetched while the current one is used.

A run may have thousands of new links; holding every page in memory before extracting any
made memory grow with the run. A PageStream keeps at most `prefetch` fetched batches
waiting, plus the one being fetched, so memory is bounded by the batch size, not the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from extractors.http import Fetcher, FetchError
from flows.jobs import PageJob


@dataclass(frozen=True, slots=True)
class LinkJob:
    """A new link of a source, to be fetched."""

    source: str
    url: str


@dataclass(slots=True)
class FetchedBatch:
    jobs: list[PageJob] = field(default_factory=list)
    failures: list[tuple[LinkJob, str]] = field(default_factory=list)  # (link, reason)
    seconds: float = 0.0  # wall time the batch took to fetch


class PageStream:
    """Iterate over `links` fetched `batch_size` at a time (concurrently within a batch,
    under the fetcher's per-host limits), fetching ahead by `prefetch` batches."""

    def __init__(
        self,
        fetcher: Fetcher,
        links: Sequence[LinkJob],
        *,
        batch_size: int = 100,
        prefetch: int = 1,
    ) -> None:
        if batch_size < 1 or prefetch < 1:
            raise ValueError("batch_size and prefetch must be at least 1")
        self.fetcher, self.links = fetcher, list(links)
        self.batch_size, self.prefetch = batch_size, prefetch

    def __len__(self) -> int:
        return len(self.links)

    async def __aiter__(self) -> AsyncIterator[FetchedBatch]:
        queue: asyncio.Queue[FetchedBatch | Exception | None] = asyncio.Queue(self.prefetch)
        producer = asyncio.create_task(self._produce(queue))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer

    async def _produce(self, queue: asyncio.Queue[FetchedBatch | Exception | None]) -> None:
        try:
            for start in range(0, len(self.links), self.batch_size):
                await queue.put(await self._fetch(self.links[start : start + self.batch_size]))
        except Exception as exc:  # handed to the consumer, which raises it
            await queue.put(exc)
            return
        await queue.put(None)

    async def _fetch(self, links: Sequence[LinkJob]) -> FetchedBatch:
        start = time.perf_counter()
        pages = await asyncio.gather(
            *(self.fetcher.get(link.url) for link in links), return_exceptions=True
        )
        now = datetime.now(UTC)
        batch = FetchedBatch()
        for link, page in zip(links, pages, strict=True):
            if isinstance(page, FetchError):
                batch.failures.append((link, page.reason))
            elif isinstance(page, asyncio.CancelledError):
                raise page
            elif isinstance(page, BaseException):
                # A bug met on one page costs that page (recorded as failed), not the run.
                batch.failures.append((link, f"unexpected error: {page!r}"))
            else:
                batch.jobs.append(PageJob(link.source, link.url, page, now))
        batch.seconds = time.perf_counter() - start
        return batch
