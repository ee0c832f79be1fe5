"""The flow's CPU per stored article: `store_batch` alone, outside Prefect, on real pages.

    uv run python bench/store.py [--articles 1000] [--database URL] [--json]

The bench newsroom's articles (bench/newsroom.py: the 181 real pages of the extraction
benchmark, cycled and varied) are extracted and prepared first, in two processes, as the
extraction workers do; then they are stored as a monitor run stores them (store calls of
STORE_SIZE articles, one StoryContext and document-frequency memory for the run) into an
empty database (a new SQLite file unless --database names one: give an empty PostgreSQL
database there). Prints the CPU and wall milliseconds per stored article and what was stored,
so a change to storing can be judged on identical input, and checked to store the same rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCES = 20  # articles are spread over this many sources, as over the bench's feeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--database", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args()
    results = extracted(args.articles)
    with tempfile.TemporaryDirectory(prefix="newswatch-store-") as tmp:
        result = store_all(results, args.database or f"sqlite:///{tmp}/store.db")
    if not args.json:
        print(
            f"{result['articles']} articles stored: {result['cpu_ms_per_article']} ms CPU, "
            f"{result['wall_ms_per_article']} ms wall per article"
        )
        print(f"outcomes {result['outcomes']}; rows {result['rows']}")
    print(json.dumps(result))


def extracted(count: int) -> list[Any]:
    """The bench articles 0..count-1, extracted and prepared (failures left out)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(2, get_context("spawn"), initializer=_init) as pool:
        return [r for r in pool.map(_extract, range(count), chunksize=20) if r is not None]


_pages: list[str] = []  # in each extraction process
_watches: list[Any] = []


def _init() -> None:
    from bench.newsroom import load_pages
    from flows.extract_worker import compile_watches
    from newswatch.config import load_settings

    _pages.extend(load_pages())
    _watches.extend(compile_watches(load_settings(None).watches))


def _extract(n: int) -> Any:
    from datetime import UTC, datetime

    from bench.newsroom import article_page
    from flows.extract_worker import _without_page, extract_one
    from flows.jobs import PageJob
    from newswatch.models import Page

    url = f"http://127.0.0.1/a/{n}.html"
    page = Page(url=url, final_url=url, status=200, content=article_page(_pages, n, url))
    job = PageJob(f"feed-{n % SOURCES}", url, page, datetime.now(UTC))
    result = extract_one(job, _watches)
    return _without_page(result) if result.article is not None else None


def store_all(results: list[Any], url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from flows.pipeline import StoryContext, store_batch
    from flows.process_links import STORE_SIZE
    from newswatch.config import load_settings
    from storage import models, repo
    from storage.db import Database

    settings = load_settings(None)
    db = Database(url)
    try:
        db.create_all()
        with db.session() as session:
            ids = {
                f"feed-{i}": repo.sync_source(
                    session, f"feed-{i}", "rss", f"http://127.0.0.1/f{i}.xml", True
                ).id
                for i in range(SOURCES)
            }
        context, memory = StoryContext.from_settings(settings), dict[str, int]()
        outcomes: Counter[str] = Counter()
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(results), STORE_SIZE):
            batch = store_batch(
                results[start : start + STORE_SIZE],
                db,
                settings,
                ids,
                context=context,
                term_memory=memory,
            )
            if batch.errors:
                raise SystemExit(f"store errors: {batch.errors[:3]}")
            for counts in batch.per_source.values():
                outcomes.update(counts)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        tables = (models.Article, models.Story, models.Storyline, models.Alert, models.ArticleTerm)
        with db.session() as session:
            rows = {
                t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in tables
            }
    finally:
        db.dispose()
    n = len(results)
    return {
        "articles": n,
        "cpu_ms_per_article": round(1000 * cpu / n, 2),
        "wall_ms_per_article": round(1000 * wall / n, 2),
        "outcomes": dict(outcomes),
        "rows": rows,
    }


if __name__ == "__main__":
    main()
