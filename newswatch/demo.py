"""`newswatch demo`: the real monitor flow against a local sample newsroom."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from newswatch.config import ConfigError
from newswatch.newsroom import Newsroom


def demo_config(feed_url: str, database_url: str) -> str:
    """A config that polls only the newsroom; watches come from the defaults."""
    return f"""\
database_url = "{database_url}"

[http]
# The newsroom runs on this machine: admit loopback for it, and only for it; it is ours,
# so no politeness delay is owed to it.
allowed_hosts = ["127.0.0.1"]
per_host_min_delay_s = 0

[sources.demo_newsroom]
kind = "rss"
url = "{feed_url}"

[channels.console]
type = "console"
"""


def run_demo(console: Console, database: Path | None = None) -> None:
    from newswatch.cli import run_monitor
    from newswatch.config import load_settings
    from newswatch.tables import articles_table, summary_table

    with tempfile.TemporaryDirectory(prefix="newswatch-demo-") as tmp:
        db_path = database.resolve() if database else Path(tmp) / "demo.db"
        with Newsroom() as newsroom:
            config_path = Path(tmp) / "newswatch.toml"
            config_path.write_text(
                demo_config(newsroom.feed_url, f"sqlite:///{db_path}"), encoding="utf-8"
            )
            console.print(
                f"[bold]newswatch demo[/bold]: a sample newsroom is serving "
                f"{newsroom.feed_url}\nrunning the monitor flow against it "
                "(Prefect's local API may take 10-20 s to start)…\n"
            )
            try:
                summary = run_monitor(str(config_path))
            except ConfigError as exc:  # the demo's own config: a bug if it happens
                raise SystemExit(f"demo configuration error: {exc}") from None
        settings = load_settings(config_path)
        console.print()
        console.print(summary_table(summary))
        console.print(articles_table(settings, watch=None, limit=50))
        if database:
            console.print(f"demo data kept in {db_path}")
