"""A monitor run under the test harness: its artifacts, run name, failures and secrets.

One run against the local newsroom, with one unreachable source and a Slack channel whose
webhook URL lives in a Prefect Secret block; its artifacts are read back through the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newswatch.config import ConfigError
from newswatch.newsroom import Newsroom, load_sample_articles
from storage.db import DatabaseError
from tests.support.slack_receiver import SlackReceiver

BLOCK = "nw-test-artifacts-slack"


@dataclass
class Run:
    name: str
    state_name: str
    summary: dict[str, Any]
    artifacts: dict[str, Any]  # key -> artifact (type, data, description)
    slack_url: str
    slack_payloads: list[dict[str, Any]]


def _config(path: Path, feed_url: str, db_url: str) -> None:
    path.write_text(
        f"""\
database_url = "{db_url}"

[http]
allowed_hosts = ["127.0.0.1"]
per_host_min_delay_s = 0
connect_timeout_s = 2

[sources.newsroom]
kind = "rss"
url = "{feed_url}"

[sources.unreachable]
kind = "rss"
url = "http://127.0.0.1:9/feed.xml?token=hunter2"

[channels.team]
type = "slack"
webhook_url_secret_block = "{BLOCK}"
""",
        encoding="utf-8",
    )


async def _read_back(flow_run_id: Any) -> tuple[str, dict[str, Any]]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return flow_run.name, {a.key: a for a in artifacts if a.key}


@pytest.fixture(scope="module")
def run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    from prefect.blocks.system import Secret

    from flows.monitor import monitor

    tmp = tmp_path_factory.mktemp("artifacts")
    with Newsroom() as newsroom, SlackReceiver() as slack:
        Secret(value=slack.url).save(BLOCK, overwrite=True)
        config = tmp / "newswatch.toml"
        _config(config, newsroom.feed_url, f"sqlite:///{tmp / 'nw.db'}")
        with contextlib.redirect_stdout(io.StringIO()):
            state = asyncio.run(monitor(config_path=str(config), return_state=True))
        flow_run_id = state.state_details.flow_run_id
        name, artifacts = asyncio.run(_read_back(flow_run_id))
        yield Run(name, state.name, state.result(), artifacts, slack.url, list(slack.payloads))


def test_a_run_with_a_failing_source_completes(run: Run) -> None:
    assert run.state_name == "Completed"
    assert run.summary["sources"]["unreachable"]["status"] == "failed"
    assert re.fullmatch(r"monitor-\d{8}-\d{4}-cli", run.name), run.name


def test_summary_table_has_a_row_per_source(run: Run) -> None:
    from flows.artifacts import SUMMARY_KEY

    artifact = run.artifacts[SUMMARY_KEY]
    assert artifact.type == "table"
    rows = {row["source"]: row for row in json.loads(artifact.data)}
    assert set(rows) == {"newsroom", "unreachable"}
    samples = len(load_sample_articles())
    assert rows["newsroom"]["new_links"] == rows["newsroom"]["fetched"] == samples
    assert rows["newsroom"]["status"] == "ok" and rows["newsroom"]["matched"] > 0
    assert rows["unreachable"]["status"] == "failed"
    assert rows["unreachable"]["reason"].startswith("network:")
    assert "hunter2" not in artifact.data and "1 of 2 sources failed" in artifact.description


def test_new_stories_markdown_lists_every_alert(run: Run) -> None:
    from flows.artifacts import NEW_STORIES_KEY

    artifact = run.artifacts[NEW_STORIES_KEY]
    assert artifact.type == "markdown"
    text: str = artifact.data
    alerted = [s for s in load_sample_articles() if s.expect and not s.syndicated_from]
    assert text.startswith(f"# New stories ({len(alerted)})")
    assert text.count("\n## [") == len(alerted)
    assert "ip\\_theft" in text and "score" in text and "> " in text


def test_progress_reaches_100(run: Run) -> None:
    from flows.artifacts import PROGRESS_KEY

    artifact = run.artifacts[PROGRESS_KEY]
    assert artifact.type == "progress"
    assert float(artifact.data) == 100.0
    samples = len(load_sample_articles())
    assert artifact.description == f"{samples} of {samples} fetched articles processed"


def test_secret_block_channel_delivers_and_stays_out_of_artifacts(run: Run) -> None:
    alerts = run.summary["totals"]["alerts"]
    assert alerts > 0 and run.summary["deliveries"]["sent"] == alerts
    assert len(run.slack_payloads) == alerts
    everything = " ".join(f"{a.data} {a.description}" for a in run.artifacts.values())
    assert run.slack_url not in everything
    assert run.slack_url.split("//", 1)[1] not in everything


def test_an_invalid_config_fails_the_run_with_one_line(
    prefect_harness: None, tmp_path: Path
) -> None:
    from flows.monitor import monitor

    config = tmp_path / "bad.toml"
    config.write_text('[sources.x]\nkind = "carrier-pigeon"\nurl = "http://x"\n')
    state = asyncio.run(monitor(config_path=str(config), return_state=True))
    assert state.is_failed()
    assert state.message is not None and "\n" not in state.message
    assert state.message.startswith("monitor cannot run: ") and "kind" in state.message
    with pytest.raises(ConfigError):  # callers of the flow (the CLI) still get the error
        asyncio.run(monitor(config_path=str(config)))


def test_an_unreachable_database_fails_the_run_without_its_password(
    prefect_harness: None, tmp_path: Path
) -> None:
    from flows.monitor import monitor

    config = tmp_path / "pg.toml"
    config.write_text(
        'database_url = "postgresql+psycopg://nw:pa55word@127.0.0.1:9/nw?connect_timeout=2"\n'
        '[sources.x]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed"\n'
    )
    state = asyncio.run(monitor(config_path=str(config), return_state=True))
    assert state.is_failed() and state.message is not None
    assert state.message.startswith("monitor cannot run: cannot open database")
    assert "pa55word" not in state.message and "\n" not in state.message
    with pytest.raises(DatabaseError):
        asyncio.run(monitor(config_path=str(config)))


def test_a_digest_that_cannot_open_its_database_fails_with_one_line(
    prefect_harness: None, tmp_path: Path
) -> None:
    from flows.digest import digest

    config = tmp_path / "pg.toml"
    config.write_text(
        'database_url = "postgresql+psycopg://nw:pa55word@127.0.0.1:9/nw?connect_timeout=2"\n'
        '[sources.x]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed"\n'
    )
    state = digest(config_path=str(config), return_state=True)
    assert state.is_failed() and state.message is not None
    assert state.message.startswith("digest cannot run: cannot open database")
    assert "pa55word" not in state.message and "\n" not in state.message
