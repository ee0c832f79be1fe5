"""Orchestration overhead of the monitor flow: Prefect's cost per article.

    uv run python bench/orchestration.py [--json] [--runs 3]

Both variants run the same pipeline over the local sample newsroom (127.0.0.1, one RSS
source, 19 articles) with a fresh SQLite database each time, extraction in-process
(`extract_workers = 1`) so no CPU hides in worker processes, and no politeness delay:

- prefect: the real `monitor` flow (tasks per source and per batch, artifacts, logs to the
  API), against Prefect's ephemeral API started once beforehand (its start is not counted);
- plain: the same pipeline functions (`discover`, `process_links` with `store_batch` as its
  store step, record_poll, `deliver_pending`) called in the same order without Prefect.

CPU is this process's (client) plus, for Prefect, the local API server's (a child process,
read from /proc), so the cost of recording task runs and artifacts is counted. The figures
are medians over --runs passes, the variants alternating so load from other processes hits
both alike. Overhead per article = (prefect - plain) / articles.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newswatch.prefect_env import configure_prefect_defaults  # noqa: E402

configure_prefect_defaults()

from alerts.outbox import RetryPolicy, deliver_pending  # noqa: E402
from extractors.http import Fetcher  # noqa: E402
from flows.backoff import due_sources, record_outcomes  # noqa: E402
from flows.jobs import ExtractResult  # noqa: E402
from flows.monitor import monitor  # noqa: E402
from flows.pipeline import (  # noqa: E402
    BatchResult,
    RunSummary,
    SourceOutcome,
    StoryContext,
    discover,
    fetch_policy,
    store_batch,
)
from flows.process_links import FetchFailure, process_links  # noqa: E402
from flows.timings import StageTimer  # noqa: E402
from newswatch.config import load_settings  # noqa: E402
from newswatch.newsroom import Newsroom  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.support.processes import descendants  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def config_text(feed_url: str, db_path: Path) -> str:
    return f"""\
database_url = "sqlite:///{db_path}"

[http]
allowed_hosts = ["127.0.0.1"]
per_host_min_delay_s = 0

[pipeline]
extract_workers = 1

[sources.newsroom]
kind = "rss"
url = "{feed_url}"

[channels.console]
type = "console"
"""


async def plain_monitor(config_path: str) -> dict[str, Any]:
    """The monitor flow's steps, in its order, with no Prefect at all."""
    settings = load_settings(config_path)
    db = Database(settings.database_url)
    try:
        db.create_all()
        sources = settings.enabled_sources()
        with db.session() as session:
            ids = {
                s.name: repo.sync_source(session, s.name, s.kind, s.url, s.enabled).id
                for s in sources
            }
        summary = RunSummary(started_at=datetime.now(UTC))
        sources, waiting = due_sources(db, sources, summary.started_at)
        claimed: set[str] = set()

        async def store(
            results: list[ExtractResult],
            failures: list[FetchFailure],
            context: StoryContext,
            term_memory: dict[str, int],
        ) -> BatchResult:
            return await asyncio.to_thread(
                store_batch,
                results,
                db,
                settings,
                ids,
                fetch_failures=failures,
                context=context,
                term_memory=term_memory,
            )

        async def no_progress(done: int, total: int) -> None:
            pass

        async with Fetcher(fetch_policy(settings.http)) as fetcher:
            outcomes: list[SourceOutcome] = list(waiting)
            outcomes += await asyncio.gather(
                *(discover(s, fetcher, db, settings, claimed) for s in sources)
            )
            per_source = await process_links(
                outcomes, fetcher, settings, store, StageTimer(), no_progress, print
            )
        record_outcomes(db, outcomes, settings.http, datetime.now(UTC))
        for outcome in outcomes:
            summary.add_source(outcome, per_source.get(outcome.name, {}))
        report = deliver_pending(db, settings.channels, RetryPolicy())
        summary.deliveries = {"sent": report.sent}
        return summary.as_dict()
    finally:
        db.dispose()


def children_cpu_s() -> float:
    """CPU seconds used so far by this process's live descendants (the Prefect API server)."""
    total = 0
    for pid in descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


Runner = Callable[[str], Coroutine[Any, Any, dict[str, Any]]]


def measure(runner: Runner, feed_url: str, tmp: Path, label: str) -> dict[str, float]:
    db_path = tmp / f"{label}.db"
    db_path.unlink(missing_ok=True)
    config = tmp / f"{label}.toml"
    config.write_text(config_text(feed_url, db_path), encoding="utf-8")
    server_before = children_cpu_s()
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the console channel's alerts
        summary = asyncio.run(runner(str(config)))
    wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    server = children_cpu_s() - server_before
    return {
        "wall_s": wall,
        "client_cpu_s": cpu,
        "server_cpu_s": server,
        "cpu_s": cpu + server,
        "articles": float(summary["totals"]["fetched"]),
    }


async def prefect_monitor(config_path: str) -> dict[str, Any]:
    result: dict[str, Any] = await monitor(config_path=config_path)
    return result


def median_of(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--runs", type=int, default=3, help="timed passes per variant")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"prefect": [], "plain": []}
    with tempfile.TemporaryDirectory(prefix="nw-bench-") as tmp_dir, Newsroom() as newsroom:
        tmp = Path(tmp_dir)
        # Warm-up, not timed: starts the ephemeral API, imports, fills caches.
        measure(prefect_monitor, newsroom.feed_url, tmp, "warmup-prefect")
        measure(plain_monitor, newsroom.feed_url, tmp, "warmup-plain")
        for _ in range(args.runs):
            runs["prefect"].append(measure(prefect_monitor, newsroom.feed_url, tmp, "prefect"))
            runs["plain"].append(measure(plain_monitor, newsroom.feed_url, tmp, "plain"))
    prefect, plain = median_of(runs["prefect"]), median_of(runs["plain"])
    articles = prefect["articles"]
    result = {
        "articles_per_run": articles,
        "runs": args.runs,
        "prefect": prefect,
        "plain": plain,
        # Mostly a fixed cost per run (flow run, 4 task runs, artifacts, logs), not per page.
        "overhead_per_run_s": {
            "wall": prefect["wall_s"] - plain["wall_s"],
            "cpu": prefect["cpu_s"] - plain["cpu_s"],
        },
        "overhead_per_article_ms": {
            "wall": 1000 * (prefect["wall_s"] - plain["wall_s"]) / articles,
            "cpu": 1000 * (prefect["cpu_s"] - plain["cpu_s"]) / articles,
            "client_cpu": 1000 * (prefect["client_cpu_s"] - plain["client_cpu_s"]) / articles,
        },
        "ratio": {
            "wall": prefect["wall_s"] / plain["wall_s"],
            "cpu": prefect["cpu_s"] / plain["cpu_s"],
            "client_cpu": prefect["client_cpu_s"] / plain["client_cpu_s"],
        },
    }
    print(json.dumps(result, indent=2))
    if not args.json:
        print(table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    p, q = result["prefect"], result["plain"]
    over, ratio = result["overhead_per_article_ms"], result["ratio"]
    n = result["articles_per_run"]
    lines = [
        f"\nmonitor run over {n:.0f} articles, medians of {result['runs']} runs",
        f"{'':14}{'prefect':>10}{'plain':>10}{'ratio':>8}{'overhead/article':>18}",
    ]
    for label, key, ratio_key, over_key in [
        ("wall s", "wall_s", "wall", "wall"),
        ("cpu s (all)", "cpu_s", "cpu", "cpu"),
        ("cpu s (client)", "client_cpu_s", "client_cpu", "client_cpu"),
    ]:
        lines.append(
            f"{label:14}{p[key]:>10.2f}{q[key]:>10.2f}{ratio[ratio_key]:>8.2f}"
            f"{over[over_key]:>15.1f} ms"
        )
    lines.append(f"{'server cpu s':14}{p['server_cpu_s']:>10.2f}{q['server_cpu_s']:>10.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
