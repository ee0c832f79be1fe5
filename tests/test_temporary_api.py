"""Prefect's temporary API served from a thread of this process (flows/temporary_api.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flows.temporary_api import prefect_api

REPO_ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter with no API configured: this session's harness configures one.
SCRIPT = """
import json, os
from pathlib import Path

import httpx
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client

from flows.temporary_api import prefect_api


def child_processes():
    tasks = Path(f"/proc/{os.getpid()}/task")
    return [c for t in tasks.iterdir() for c in (t / "children").read_text().split()]


@flow(name="temporary-api-check")
def check():
    get_run_logger().info("logged through the temporary API")
    return child_processes()


with prefect_api() as url:
    children = check()
try:
    httpx.get(url + "/health", timeout=2)
    stopped = False
except httpx.ConnectError:
    stopped = True
with prefect_api():  # a second start, on the database the first one left
    with get_client(sync_client=True) as client:
        states = [run.state_name for run in client.read_flow_runs()]
        logs = [log.message for log in client.read_logs()]
print(json.dumps({"url": url, "children": children, "stopped": stopped, "states": states,
                  "logs": logs}))
"""


def test_without_a_configured_api_flows_run_against_one_served_here(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONPATH=str(REPO_ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,  # a bound for a hung run; it measures nothing
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["url"].startswith("http://127.0.0.1:")
    assert result["children"] == []  # no server process: the API ran in this one
    assert result["stopped"]
    assert result["states"] == ["Completed"]
    # The flow's log line was delivered before the first API stopped.
    assert "logged through the temporary API" in result["logs"]
    assert "Error logging to API" not in done.stderr
    assert "Starting temporary server" not in done.stderr  # Prefect's own subprocess API


def test_a_configured_api_is_used_as_it_is(prefect_harness: None) -> None:
    from prefect.settings import PREFECT_API_URL

    with prefect_api() as url:
        assert url == PREFECT_API_URL.value()
        assert "prefect-temporary-api" not in {t.name for t in threading.enumerate()}


def test_it_refuses_to_run_inside_an_event_loop() -> None:
    async def inside() -> None:
        with prefect_api():
            pass

    with pytest.raises(RuntimeError, match="outside an event loop"):
        asyncio.run(inside())
