"""The monitor flow's streaming parts: PageStream batches, the extraction pool, the batch
store's term-frequency cache and bulk link records."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select

from extractors.http import Fetcher, FetchError
from flows import process_links as process_links_module
from flows.extract_worker import ExtractPool
from flows.jobs import ExtractResult, PageJob
from flows.pipeline import BatchResult, SourceOutcome, StoryContext
from flows.process_links import FetchFailure, process_links
from flows.stream import FetchedBatch, LinkJob, PageStream
from flows.timings import StageTimer
from newswatch.config import load_settings
from newswatch.models import Page
from newswatch.newsroom import load_sample_articles
from newswatch.newsroom.pages import render_article_page
from storage import repo
from storage.db import Database
from storage.models import Link, TermStat

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]
BASE = "http://127.0.0.1:8000"


class FakeFetcher:
    """Answers every URL with a small page, except those containing "broken"."""

    def __init__(self) -> None:
        self.requested: list[str] = []

    async def get(self, url: str) -> Page:
        self.requested.append(url)
        await asyncio.sleep(0)
        if "broken" in url:
            raise FetchError(url, "HTTP 404", "http_status", status=404)
        return Page(url=url, final_url=url, status=200, content=b"<html>" + url.encode())


def _links(count: int) -> list[LinkJob]:
    return [LinkJob("room", f"{BASE}/a/{n}") for n in range(count)]


async def _collect(stream: PageStream) -> list[FetchedBatch]:
    return [batch async for batch in stream]


def test_links_come_in_batches_in_order() -> None:
    fetcher = FakeFetcher()
    stream = PageStream(cast(Fetcher, fetcher), _links(7), batch_size=3)
    batches = asyncio.run(_collect(stream))
    assert [len(b.jobs) for b in batches] == [3, 3, 1]
    assert [j.link for b in batches for j in b.jobs] == [link.url for link in _links(7)]
    assert all(j.source == "room" for b in batches for j in b.jobs)


def test_failed_fetches_are_reported_with_their_reason() -> None:
    links = [*_links(2), LinkJob("room", f"{BASE}/broken")]
    [batch] = asyncio.run(_collect(PageStream(cast(Fetcher, FakeFetcher()), links, batch_size=5)))
    assert len(batch.jobs) == 2
    assert [(link.url, reason) for link, reason in batch.failures] == [
        (f"{BASE}/broken", "HTTP 404")
    ]


def test_fetching_runs_at_most_prefetch_batches_ahead() -> None:
    fetcher = FakeFetcher()

    async def consume_slowly() -> list[int]:
        ahead: list[int] = []
        seen = 0
        async for batch in PageStream(cast(Fetcher, fetcher), _links(20), batch_size=2):
            seen += len(batch.jobs)
            await asyncio.sleep(0.01)  # the consumer is the slow stage
            ahead.append(len(fetcher.requested) - seen)
        return ahead

    ahead = asyncio.run(consume_slowly())
    # One batch queued and one being fetched at most: memory bounded by the batch size.
    assert max(ahead) <= 2 * 2


def test_breaking_off_stops_fetching() -> None:
    fetcher = FakeFetcher()

    async def first_only() -> None:
        async for _ in PageStream(cast(Fetcher, fetcher), _links(50), batch_size=5):
            break
        await asyncio.sleep(0.05)

    asyncio.run(first_only())
    assert len(fetcher.requested) <= 15


def test_empty_stream_and_bad_sizes() -> None:
    assert asyncio.run(_collect(PageStream(cast(Fetcher, FakeFetcher()), []))) == []
    with pytest.raises(ValueError):
        PageStream(cast(Fetcher, FakeFetcher()), [], batch_size=0)


def _jobs() -> list[PageJob]:
    samples = load_sample_articles()[:3]
    jobs = [
        PageJob(
            "room",
            BASE + a.path,
            Page(
                url=BASE + a.path,
                final_url=BASE + a.path,
                status=200,
                content=render_article_page(a, base_url=BASE).encode(),
                content_type="text/html; charset=utf-8",
            ),
            NOW,
        )
        for a in samples
    ]
    broken = Page(url=f"{BASE}/x", final_url=f"{BASE}/x", status=200, content=b"\x00\x01")
    return [*jobs, PageJob("room", f"{BASE}/x", broken, NOW)]


@pytest.mark.parametrize("workers", [1, 2])
def test_extract_pool_prepares_articles_in_order(workers: int) -> None:
    jobs = _jobs()
    watches = load_settings(None).watches

    async def run() -> list[ExtractResult]:
        async with ExtractPool(workers, watches) as pool:
            return list(await pool.extract(jobs))

    results = asyncio.run(run())
    assert [r.job.link for r in results] == [j.link for j in jobs]
    *good, bad = results
    for result in good:
        assert result.article is not None and result.prepared is not None
        assert result.prepared.features.text_terms
        assert result.seconds["extract"] > 0
    assert bad.article is None and bad.error


def test_extraction_workers_load_neither_pydantic_nor_dateparser() -> None:
    """Each would cost every worker tens of megabytes: pydantic (the watches' config model;
    workers get compiled scorers) and dateparser (htmldate's extensive date search, needed
    by none of the sample pages)."""
    jobs = _jobs()

    async def run() -> list[str]:
        async with ExtractPool(2, load_settings(None).watches) as pool:
            results = await pool.extract(jobs)
            assert all(r.prepared is not None for r in results[:-1])
            assert pool._pool is not None
            probe = "sorted({'pydantic', 'dateparser'} & set(__import__('sys').modules))"
            loop = asyncio.get_running_loop()
            return cast(list[str], await loop.run_in_executor(pool._pool, eval, probe))

    assert asyncio.run(run()) == []


def test_term_cache_counts_before_and_after_flush(db: Database) -> None:
    with db.session() as session:
        repo.count_document(session, ["tariff", "steel"])
    with db.session() as session:
        cache = repo.TermCache(session)
        assert cache.frequencies(["tariff", "chips"]) == (1, {"tariff": 1})
        cache.count(["tariff", "chips"])
        cache.count(["chips"])
        # Its own counts are seen before they are written.
        assert cache.frequencies(["tariff", "chips", "steel"]) == (
            3,
            {"tariff": 2, "chips": 2, "steel": 1},
        )
        cache.flush()
        assert cache.frequencies(["chips"]) == (3, {"chips": 2})
    with db.session() as session:
        stored = dict(session.execute(select(TermStat.term, TermStat.df)).tuples().all())
    assert stored["tariff"] == 2 and stored["chips"] == 2 and stored["steel"] == 1


def test_term_memory_carries_over_committed_transactions(db: Database) -> None:
    memory: dict[str, int] = {}
    with db.session() as session:
        cache = repo.TermCache(session, memory)
        cache.frequencies(["tariff"])
        cache.count(["tariff"])
        cache.flush()
    assert memory["tariff"] == 1
    with db.session() as session:
        cache = repo.TermCache(session, memory)
        assert cache.frequencies(["tariff"]) == (1, {"tariff": 1})
        cache.count(["tariff"])
        cache.flush()
    with db.session() as session:
        assert repo.term_frequencies(session, ["tariff"]) == (2, {"tariff": 2})


def test_record_links_inserts_and_counts_attempts(db: Database) -> None:
    with db.session() as session:
        source_id = repo.sync_source(session, "room", "rss", f"{BASE}/feed.xml", True).id
        repo.record_link(session, f"{BASE}/a", source_id, outcome="failed", at=NOW, error="boom")
    records = [
        repo.LinkRecord(f"{BASE}/a", source_id, "stored", NOW, None, None),
        repo.LinkRecord(f"{BASE}/b", source_id, "failed", NOW, "HTTP 404", None),
    ]
    with db.session() as session:
        repo.record_links(session, records)
    with db.session() as session:
        links = {link.url: link for link in session.scalars(select(Link))}
    assert links[f"{BASE}/a"].attempts == 2 and links[f"{BASE}/a"].outcome == "stored"
    assert links[f"{BASE}/a"].error is None
    assert links[f"{BASE}/b"].attempts == 1 and links[f"{BASE}/b"].error == "HTTP 404"


class PagesFetcher(FakeFetcher):
    """Answers with real article pages of the sample newsroom (and 404 for "broken")."""

    def __init__(self) -> None:
        super().__init__()
        self.pages = [
            render_article_page(a, base_url=BASE).encode() for a in load_sample_articles()[:3]
        ]

    async def get(self, url: str) -> Page:
        await super().get(url)  # records the request; raises for "broken"
        content = self.pages[int(url.rsplit("/", 1)[1]) % len(self.pages)]
        return Page(url=url, final_url=url, status=200, content=content, content_type="text/html")


@pytest.mark.parametrize("workers", [1, 2])
def test_process_links_stores_every_link_once_in_store_sized_calls(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process_links_module, "BATCH_SIZE", 4)
    monkeypatch.setattr(process_links_module, "STORE_SIZE", 9)
    monkeypatch.setattr(process_links_module, "POOL_MIN_PAGES", 1)
    urls = [f"{BASE}/a/{n}" for n in range(23)] + [f"{BASE}/broken/{n}" for n in range(3)]
    outcome = SourceOutcome(name="room", status="ok", links_to_fetch=urls)
    settings = load_settings(None).model_copy(deep=True)
    settings.pipeline.extract_workers = workers
    calls: list[tuple[list[str], list[str]]] = []  # (extracted links, failed links) per call
    progress: list[tuple[int, int]] = []

    async def store(
        results: list[ExtractResult],
        failures: list[FetchFailure],
        context: StoryContext,
        term_memory: dict[str, int],
    ) -> BatchResult:
        assert all(r.article is not None for r in results)
        calls.append(([r.job.link for r in results], [link for _, link, _ in failures]))
        return BatchResult({"room": {"stored": len(results)}}, [])

    async def on_progress(done: int, total: int) -> None:
        progress.append((done, total))

    counts = asyncio.run(
        process_links(
            [outcome],
            cast(Fetcher, PagesFetcher()),
            settings,
            store,
            StageTimer(),
            on_progress,
            pytest.fail,
        )
    )
    stored = [link for links, _ in calls for link in links]
    failed = [link for _, links in calls for link in links]
    assert sorted(stored) == sorted(urls[:23]) and sorted(failed) == sorted(urls[23:])
    sizes = [len(a) + len(b) for a, b in calls]
    # Every call but the last holds at least STORE_SIZE links, and less than a batch more.
    assert all(9 <= size < 9 + 4 for size in sizes[:-1]) and 0 < sizes[-1] < 9 + 4
    assert [done for done, _ in progress] == list(itertools.accumulate(sizes))
    assert progress[-1] == (26, 26)
    assert counts == {"room": {"stored": 23}}
    assert outcome.fetched == 23 and len(outcome.fetch_failures) == 3


WORKER_PROBE = """
import asyncio, os, sys
from pathlib import Path

Path(sys.argv[1]).open("a").write(f"{os.getpid()}\\n")  # once per import of this script

from flows.extract_worker import ExtractPool
from flows.jobs import PageJob
from newswatch.config import load_settings
from newswatch.models import Page
from datetime import UTC, datetime

# No `if __name__ == "__main__"` guard, on purpose: workers must not import this script.
page = Page(url="http://127.0.0.1/a", final_url="http://127.0.0.1/a", status=200,
            content=b"<html><body><article><p>" + b"Words of a story. " * 40
            + b"</p></article></body></html>")


async def main():
    async with ExtractPool(2, load_settings(None).watches) as pool:
        results = await pool.extract([PageJob("room", page.url, page, datetime.now(UTC))] * 4)
        print(pool.fallback_reason, sum(r.article is not None for r in results))


asyncio.run(main())
"""


def test_extraction_workers_do_not_import_the_entry_script(tmp_path: Path) -> None:
    """Under `newswatch run` the entry script is the CLI, under a deployment Prefect's: a
    worker importing it costs seconds and tens of megabytes, and a script without a
    `__main__` guard would start workers recursively."""
    script, marks = tmp_path / "probe.py", tmp_path / "imports.txt"
    script.write_text(WORKER_PROBE)
    done = subprocess.run(
        [sys.executable, str(script), str(marks)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "4"]  # no fallback: the workers extracted
    assert len(marks.read_text().split()) == 1  # the script ran in its own process only
