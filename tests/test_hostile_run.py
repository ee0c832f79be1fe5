"""A whole run of the real `monitor` flow against a web where half the sources misbehave.

Twelve sources, under the session's Prefect harness, a SQLite file and real servers on
127.0.0.1: five healthy ones (the sample newsroom's feed, a plain feed with one page
robots.txt forbids, a feed full of file:/javascript:/internal links, a sloppy but
readable feed, and a 50,000-entry feed), and seven that fail, each on a hostile site of
its own so that one site's faults never decide another's outcome (a slow server, a
429 asking for an hour's pause, a gigabyte body, a redirect to the cloud metadata
address, an XML billion-laughs feed, a feed robots.txt forbids, a connection reset
mid-body).

Three runs: the first polls everything; the second, straight after, leaves the failing
sources alone while they back off (their sites' request logs show no request at all);
the third, `newswatch run --force`, polls them anyway and doubles their back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.newsroom import Newsroom, load_sample_articles
from newswatch.tables import summary_table
from storage.db import Database
from storage.models import Article, Source
from tests.support.hostile_newsroom import HostileNewsroom

CAP = 8_000_000  # max_bytes: the 50,000-entry feed (~6.5 MB) fits, the gigabyte does not

# name: (path on its own hostile site, error kind, words the reason must contain)
FAILING = {
    "slow": ("/slow-headers", "timeout", "read timed out after 1s"),
    "rate_limited": ("/rate-limited-long", "http_status", "HTTP 429"),
    "huge": ("/huge", "too_large", f"body larger than {CAP} bytes"),
    "metadata": ("/to-metadata", "refused", "refused: 169.254.169.254 is a link-local address"),
    "laughs": ("/billion-laughs.xml", "parse", "declares XML entities"),
    "forbidden": ("/private/feed.xml", "robots", "disallowed by robots.txt"),
    "reset": ("/reset", "network", "connection failed"),
}
# name: path on the healthy hostile site (the sample newsroom's feed is "newsroom")
HEALTHY = {
    "wire": "/feed.xml",
    "hostile_links": "/hostile-links.xml",
    "sloppy": "/sloppy.xml",
    "firehose": "/big-feed.xml",
}
FIREHOSE_CAP = 5  # new links per run from the 50,000-entry feed


@dataclass
class HostileRun:
    db: Database
    config: Path
    newsroom: Newsroom
    site: HostileNewsroom
    rooms: dict[str, HostileNewsroom]
    runs: list[dict[str, Any]] = field(default_factory=list)
    room_hits: list[dict[str, int]] = field(default_factory=list)  # per run, per failing room
    stored: list[set[str]] = field(default_factory=list)  # per run: slugs of stored articles
    started: list[datetime] = field(default_factory=list)


def _config(
    path: Path,
    db_url: str,
    newsroom: Newsroom,
    site: HostileNewsroom,
    rooms: dict[str, HostileNewsroom],
) -> Path:
    sources = [f'[sources.newsroom]\nkind = "rss"\nurl = "{newsroom.feed_url}"\n']
    for name, route in HEALTHY.items():
        sources.append(f'[sources.{name}]\nkind = "rss"\nurl = "{site.url(route)}"\n')
        if name == "firehose":
            sources[-1] += f"max_new_links = {FIREHOSE_CAP}\n"
    for name, (route, _, _) in FAILING.items():
        sources.append(f'[sources.{name}]\nkind = "rss"\nurl = "{rooms[name].url(route)}"\n')
    path.write_text(
        f"""\
database_url = "{db_url}"

[http]
allowed_hosts = ["127.0.0.1"]
per_host_min_delay_s = 0
connect_timeout_s = 1
read_timeout_s = 1
total_timeout_s = 10  # reading the firehose or the cap's worth of the gigabyte, under load
max_bytes = {CAP}
max_retries = 1

[pipeline]
poll_retry_delay_s = 0.2
extract_workers = 1

"""
        + "\n".join(sources),
        encoding="utf-8",
    )
    return path


def _flow_run(scenario: HostileRun) -> None:
    from flows.monitor import monitor

    scenario.started.append(datetime.now().astimezone())
    with contextlib.redirect_stdout(io.StringIO()):  # the console channel's alerts
        scenario.runs.append(asyncio.run(monitor(config_path=str(scenario.config))))
    _after_run(scenario)


def _cli_forced_run(scenario: HostileRun) -> None:
    scenario.started.append(datetime.now().astimezone())
    result = CliRunner().invoke(app, ["run", "--config", str(scenario.config), "--force", "--json"])
    assert result.exit_code == 0, result.output
    scenario.runs.append(json.loads(result.stdout[result.stdout.index("{") :]))
    _after_run(scenario)


def _after_run(scenario: HostileRun) -> None:
    scenario.room_hits.append({n: len(room.hits()) for n, room in scenario.rooms.items()})
    with scenario.db.session() as session:
        urls = session.scalars(select(Article.canonical_url)).all()
    scenario.stored.append({url.rsplit("/", 1)[-1] for url in urls})


@pytest.fixture(scope="module")
def scenario(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileRun]:
    tmp = tmp_path_factory.mktemp("hostile-run")
    db_url = f"sqlite:///{tmp / 'newswatch.db'}"
    with contextlib.ExitStack() as stack:
        newsroom = stack.enter_context(Newsroom())
        site = stack.enter_context(HostileNewsroom())
        rooms = {name: stack.enter_context(HostileNewsroom(slow_s=3.0)) for name in FAILING}
        config = _config(tmp / "newswatch.toml", db_url, newsroom, site, rooms)
        db = Database(db_url)
        scenario = HostileRun(db, config, newsroom, site, rooms)
        _flow_run(scenario)  # 0: everything polled
        _flow_run(scenario)  # 1: straight after: the failing half backs off
        _cli_forced_run(scenario)  # 2: newswatch run --force
        yield scenario
        db.dispose()


def _sources(db: Database) -> dict[str, Source]:
    with db.session() as session:
        return {row.name: row for row in session.scalars(select(Source)).all()}


def test_the_run_completes_and_reports_each_failure_with_reason_and_kind(
    scenario: HostileRun,
) -> None:
    first = scenario.runs[0]
    assert first["totals"]["sources"] == 12 and first["totals"]["sources_failed"] == 7
    for name, (_, kind, reason) in FAILING.items():
        row = first["sources"][name]
        assert (row["status"], row["error_kind"]) == ("failed", kind), (name, row)
        assert reason in row["error"], (name, row["error"])
        assert row["consecutive_failures"] == 1 and row["next_poll_at"], name
    for name in ["newsroom", *HEALTHY]:
        row = first["sources"][name]
        assert (row["status"], row["error"], row["error_kind"]) == ("ok", None, None), name


def test_everything_the_healthy_half_lists_is_stored(scenario: HostileRun) -> None:
    expected = {sample.slug for sample in load_sample_articles()}
    expected |= {"good-story-1", "good-story-2", "good-story-3", "the-one-good-story"}
    expected |= {"tariff-talks", *(f"story-number-{i}" for i in range(FIREHOSE_CAP))}
    assert scenario.stored[0] == expected
    first = scenario.runs[0]["sources"]
    # the healthy feed's page robots.txt forbids is a page failure, not the source's
    assert first["wire"]["page_failures"] == 1
    assert "disallowed by robots.txt" in first["wire"]["failure_examples"][0]
    assert first["hostile_links"]["links"] == 1  # file:, javascript:, internal hosts dropped
    assert first["firehose"]["new_links"] == FIREHOSE_CAP


def test_what_each_failing_site_saw(scenario: HostileRun) -> None:
    hits = {name: [h.path for h in room.hits()] for name, room in scenario.rooms.items()}
    first = scenario.room_hits[0]
    # robots.txt once per run, then: a timeout retried once by the flow; the long
    # Retry-After, the gigabyte, the redirect and the entity feed asked for once; nothing
    # robots.txt forbids; the reset retried by the fetcher, then once more by the flow.
    assert first == {
        "slow": 3,
        "rate_limited": 2,
        "huge": 2,
        "metadata": 2,
        "laughs": 2,
        "forbidden": 1,
        "reset": 5,
    }
    assert "/private/feed.xml" not in hits["forbidden"]
    assert all(path in ("/robots.txt", "/to-metadata") for path in hits["metadata"])
    # the gigabyte was cut near the cap (plus what the kernels buffer), each time
    assert all(hit.bytes_sent < CAP + 8_000_000 for hit in scenario.rooms["huge"].hits("/huge"))


def test_the_next_run_leaves_the_failing_sources_alone(scenario: HostileRun) -> None:
    second = scenario.runs[1]
    assert scenario.room_hits[1] == scenario.room_hits[0]  # not one request, robots.txt included
    assert second["totals"]["sources_skipped"] == 7 and second["totals"]["sources_failed"] == 0
    for name, (_, kind, _) in FAILING.items():
        row = second["sources"][name]
        assert (row["status"], row["error_kind"]) == ("skipped", kind), name
        assert row["next_poll_at"] == scenario.runs[0]["sources"][name]["next_poll_at"]
        assert datetime.fromisoformat(row["next_poll_at"]) > scenario.started[1]
    for name in ["newsroom", *HEALTHY]:
        assert second["sources"][name]["status"] in ("ok", "not_modified"), name
    # the only pages fetched: the firehose's next few links
    assert second["totals"]["fetched"] == second["sources"]["firehose"]["fetched"] == FIREHOSE_CAP
    assert len(scenario.stored[1] - scenario.stored[0]) == FIREHOSE_CAP
    # a server's long Retry-After holds the source for at least that long
    rate_limited = datetime.fromisoformat(second["sources"]["rate_limited"]["next_poll_at"])
    assert rate_limited >= scenario.started[0] + timedelta(seconds=3600)


def test_a_forced_run_polls_them_and_doubles_the_backoff(scenario: HostileRun) -> None:
    third = scenario.runs[2]
    for name, (_, kind, _) in FAILING.items():
        row = third["sources"][name]
        assert (row["status"], row["error_kind"]) == ("failed", kind), name
        assert row["consecutive_failures"] == 2
        if name != "rate_limited":  # second failure in a row: 15-30 minutes
            wait = datetime.fromisoformat(row["next_poll_at"]) - scenario.started[2]
            assert timedelta(minutes=15) <= wait <= timedelta(minutes=31), (name, wait)
    assert all(scenario.room_hits[2][n] > scenario.room_hits[1][n] for n in FAILING)
    sources = _sources(scenario.db)
    assert {n: sources[n].consecutive_failures for n in FAILING} == dict.fromkeys(FAILING, 2)
    assert {n: sources[n].last_error_kind for n in FAILING} == {
        n: kind for n, (_, kind, _) in FAILING.items()
    }
    assert all(sources[n].consecutive_failures == 0 for n in ["newsroom", *HEALTHY])


def test_the_summary_and_sources_listing_show_reasons_and_backoff(scenario: HostileRun) -> None:
    console = Console(width=250, record=True, color_system=None)
    console.print(summary_table(scenario.runs[1]))
    shown = " ".join(console.export_text().replace("│", " ").split())
    assert "total: 12 sources, 0 failed, 7 backing off" in shown
    assert "huge: backing off until " in shown
    assert f"(last: too_large: body larger than {CAP} bytes" in shown

    listing = CliRunner().invoke(
        app, ["sources", "--config", str(scenario.config)], env={"COLUMNS": "300"}
    )
    assert listing.exit_code == 0, listing.output
    lines = {
        line.split()[1]: line
        for line in listing.output.splitlines()
        if "│" in line and len(line.split()) > 1
    }
    assert "failed" in lines["metadata"] and " 2 " in lines["metadata"]
    assert "after 20" in lines["metadata"]  # next allowed poll: a date
    assert "refused: refused: 169.254.169.254" in lines["metadata"]
    assert "next run" in lines["newsroom"]
