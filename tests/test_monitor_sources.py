"""Every kind of source through the monitor flow, and a failed page retried next run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from newswatch.newsroom import Newsroom, load_sample_articles


def _config(path: Path, newsroom: Newsroom, db_url: str) -> Path:
    path.write_text(
        f"""\
database_url = "{db_url}"

[http]
allowed_hosts = ["127.0.0.1"]
per_host_min_delay_s = 0
max_retries = 0  # counted requests below: one per page per run

[pipeline]
poll_retry_delay_s = 0.5

[sources.atom]
kind = "atom"
url = "{newsroom.atom_url}"

[sources.sitemap]
kind = "sitemap"
url = "{newsroom.sitemap_url}"

[sources.index]
kind = "html_index"
url = "{newsroom.index_url}"

[channels.console]
type = "console"
""",
        encoding="utf-8",
    )
    return path


def _run(config: Path) -> dict[str, Any]:
    from flows.monitor import monitor

    result: dict[str, Any] = asyncio.run(monitor(config_path=str(config)))
    return result


def test_atom_sitemap_and_index_sources_and_a_page_retried(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = load_sample_articles()
    broken = next(s for s in samples if not s.expect)  # a near-miss: no alert depends on it
    with Newsroom() as newsroom:
        config = _config(tmp_path / "newswatch.toml", newsroom, f"sqlite:///{tmp_path / 'n.db'}")
        page = f"/articles/{broken.slug}"
        newsroom.set_failure(page, 503)

        first = _run(config)
        for name in ("atom", "sitemap", "index"):
            assert first["sources"][name]["status"] == "ok", name
            assert first["sources"][name]["links"] == len(samples), name
        totals = first["totals"]
        # Three sources list the same articles; each page is fetched once all the same.
        assert totals["fetched"] == len(samples) - 1
        assert totals["page_failures"] == 1
        assert totals["stored"] == len(samples) - 1
        assert newsroom.article_hits() == len(samples)

        newsroom.clear_failure(page)
        second = _run(config)  # every listing answers 304; the failed page is retried
        assert {row["status"] for row in second["sources"].values()} == {"not_modified"}
        assert second["totals"]["fetched"] == 1 and second["totals"]["stored"] == 1
        assert second["totals"]["alerts"] == 0
        assert newsroom.hits(page) == 2

        third = _run(config)
        assert third["totals"]["fetched"] == 0 and newsroom.hits(page) == 2
    capsys.readouterr()
