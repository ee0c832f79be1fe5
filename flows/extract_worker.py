"""A pool of extraction processes that lives for one run: pages in, prepared articles out.

Extraction is CPU-bound, so it runs in worker processes (both cores). Each worker also does
the per-article work that needs only the text — hashes, SimHash, event features and the
watches' scores — so the flow's own process is left with I/O and the database. The pool is
started once per run, not once per batch.

Workers are spawned without the parent's entry script: a spawned child imports the parent's
`__main__` before anything else, which is the newswatch CLI under `newswatch run` and
Prefect's CLI or engine under a deployment (seconds and 70-150 MB per worker, for nothing;
and a script without a `__main__` guard would start workers recursively). No Prefect here,
nor database or alerting code, for the same reason.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.context import SpawnContext, SpawnProcess
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Self

from classifiers.watches import Scorer, Watch, compile_watch
from flows.jobs import ExtractResult, PageJob, prepare

if TYPE_CHECKING:
    from classifiers.watch_spec import WatchSpec

# Pages sent to a worker per call: fewer round trips, still an even spread over workers.
CHUNK = 5

_scorers: list[Scorer] = []  # in each worker, set once by _init


def _init(scorers: list[Scorer]) -> None:
    global _scorers
    _scorers = scorers


def compile_watches(specs: Mapping[str, WatchSpec]) -> list[Watch]:
    return [compile_watch(name, spec) for name, spec in specs.items() if spec.enabled]


def extract_one(job: PageJob, watches: Sequence[Watch | Scorer]) -> ExtractResult:
    """Extract one page and prepare its article; an error is the result, never raised."""
    # Imported here: the flow's own process only extracts if the workers cannot start.
    from extractors.extract import ExtractionError, extract_article

    start = time.perf_counter()
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
    extracted = time.perf_counter()
    prepared = prepare(article, watches)
    return ExtractResult(
        job=job,
        article=article,
        error=None,
        prepared=prepared,
        seconds={"extract": extracted - start, **prepared.seconds},
    )


def _extract_chunk(jobs: Sequence[PageJob]) -> list[ExtractResult]:
    # The page bytes are not sent back: the flow has them, and the article holds the text.
    return [_without_page(extract_one(job, _scorers)) for job in jobs]


def _without_page(result: ExtractResult) -> ExtractResult:
    page = replace(result.job.page, content=b"")
    return replace(result, job=replace(result.job, page=page))


@contextmanager
def _entry_script_hidden() -> Iterator[None]:
    """The parent's `__main__` replaced by an empty module while a worker starts: spawn tells
    the child to import `__main__`'s module or file first, and this one names neither. Other
    threads could see the empty module for the few milliseconds each worker start takes
    (one per worker per run; nothing in newswatch reads `__main__`)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class _WorkerProcess(SpawnProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        with _entry_script_hidden():
            return SpawnProcess._Popen(process_obj)


class _WorkerContext(SpawnContext):
    Process = _WorkerProcess


class ExtractPool:
    """`async with ExtractPool(workers, watch_specs) as pool: await pool.extract(jobs)`.

    With fewer than two workers, or if worker processes cannot start, pages are extracted in
    a thread of this process: slower beats no run at all.
    """

    def __init__(self, workers: int, specs: Mapping[str, WatchSpec]) -> None:
        self.workers = workers
        # Compiled here, sent as plain scorers: a worker unpickling a spec would load pydantic.
        self.scorers = [watch.scorer for watch in compile_watches(specs)]
        self._pool: ProcessPoolExecutor | None = None
        self.fallback_reason: str | None = None

    async def __aenter__(self) -> Self:
        if self.workers >= 2:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_WorkerContext(),
                initializer=_init,
                initargs=(self.scorers,),
            )
            # Start the workers now, while sources are being polled: not on the first batch.
            loop = asyncio.get_running_loop()
            for _ in range(self.workers):
                loop.run_in_executor(self._pool, _extract_chunk, [])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def extract(self, jobs: Sequence[PageJob]) -> list[ExtractResult]:
        pool = self._pool  # several batches may be in the pool at once
        if pool is not None:
            loop = asyncio.get_running_loop()
            chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
            try:
                done = await asyncio.gather(
                    *(loop.run_in_executor(pool, _extract_chunk, c) for c in chunks)
                )
                return [result for chunk in done for result in chunk]
            except (BrokenProcessPool, RuntimeError) as exc:
                if self._pool is pool:
                    self.fallback_reason = (
                        f"extraction pool unavailable ({exc}); extracting in-process"
                    )
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None
        watches = self.scorers
        return await asyncio.to_thread(lambda: [extract_one(job, watches) for job in jobs])
