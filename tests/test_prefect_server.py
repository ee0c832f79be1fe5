"""Against a real Prefect server: `prefect deploy --all`, a worker, a triggered monitor run.

The test starts `prefect server start` on 127.0.0.1 (a free port, its own PREFECT_HOME),
creates the process work pool, deploys prefect.yaml as an operator would, starts a worker,
triggers a monitor run through the API against the local newsroom and waits for it to
complete with its artifacts. Every process it starts is stopped at the end (see
tests/support/processes.py). It takes about a minute here: marked `prefect_server`, run by
default (CI included); `-m "not prefect_server"` leaves it out locally.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.local_server import _free_port
from newswatch.newsroom import Newsroom, load_sample_articles
from tests.support.processes import Processes

pytestmark = pytest.mark.prefect_server

REPO_ROOT = Path(__file__).resolve().parents[1]
# Generous bounds for a loaded 2-core machine: they stop a hung test, they measure nothing.
STARTUP_S = 180.0
RUN_S = 300.0


@dataclass
class Server:
    api: str
    env: dict[str, str]
    tmp: Path
    processes: Processes

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=STARTUP_S,
        )
        assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.api}{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None


def _environment(tmp: Path, api: str) -> dict[str, str]:
    # Nothing of the test session's Prefect settings (its harness) leaks into the children.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        HOME=str(tmp / "home"),  # a stray default config or database lands here, not in ~
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_WORKER_QUERY_SECONDS="2",  # pick the run up quickly (default 10 s)
        PREFECT_CLI_WRAP_LINES="false",
    )
    (tmp / "home").mkdir()
    return env


def _wait_healthy(api: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"prefect server exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"prefect server not healthy:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("prefect-server")
    port = _free_port(0)
    api = f"http://127.0.0.1:{port}/api"
    env = _environment(tmp, api)
    processes = Processes()
    try:
        log = tmp / "server.log"
        command = [sys.executable, "-m", "prefect", "server", "start"]
        process = processes.start(
            [*command, "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=tmp, log=log
        )
        _wait_healthy(api, process, log)
        yield Server(api, env, tmp, processes)
    finally:
        processes.stop_all()


def _deployments(server: Server) -> dict[str, dict[str, Any]]:
    rows = server.post("/deployments/filter", {})
    return {row["name"]: row for row in rows}


@pytest.fixture(scope="module")
def deployed(server: Server) -> dict[str, dict[str, Any]]:
    server.cli("work-pool", "create", "newswatch", "--type", "process")
    server.cli("--no-prompt", "deploy", "--all")
    deployments = _deployments(server)
    for deployment in deployments.values():
        # Schedules registered (checked below) but paused: a quarter-hour tick during the
        # test must not start a run over the default (internet) sources.
        server.post(f"/deployments/{deployment['id']}/pause_deployment", {})
    return deployments


def test_deploy_all_registers_both_deployments_with_their_schedules(
    deployed: dict[str, dict[str, Any]],
) -> None:
    assert set(deployed) == {"monitor", "digest"}
    monitor, digest = deployed["monitor"], deployed["digest"]
    [schedule] = monitor["schedules"]
    assert schedule["schedule"]["cron"] == "*/15 * * * *" and schedule["active"]
    [schedule] = digest["schedules"]
    assert schedule["schedule"]["cron"] == "0 8 * * *"
    assert schedule["schedule"]["timezone"] == "UTC"
    assert monitor["work_pool_name"] == "newswatch"
    assert monitor["concurrency_limit"] == 1 or monitor["global_concurrency_limit"]
    assert monitor["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert "newswatch" in monitor["tags"] and monitor["parameters"] == {"config_path": None}
    assert digest["parameters"] == {"config_path": None, "period_hours": 24}


def test_a_triggered_monitor_run_is_run_by_a_worker_with_its_artifacts(
    server: Server, deployed: dict[str, dict[str, Any]]
) -> None:
    worker_log = server.tmp / "worker.log"
    server.processes.start(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "newswatch"],
        env=server.env,
        cwd=REPO_ROOT,
        log=worker_log,
    )
    with Newsroom() as newsroom:
        config = server.tmp / "newswatch.toml"
        config.write_text(
            f'database_url = "sqlite:///{server.tmp / "nw.db"}"\n'
            '[http]\nallowed_hosts = ["127.0.0.1"]\nper_host_min_delay_s = 0\n'
            f'[sources.newsroom]\nkind = "rss"\nurl = "{newsroom.feed_url}"\n'
            '[channels.console]\ntype = "console"\n'
        )
        run = server.post(
            f"/deployments/{deployed['monitor']['id']}/create_flow_run",
            {"parameters": {"config_path": str(config)}},
        )
        flow_run = _wait_final(server, run["id"], worker_log)
    assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    assert re.fullmatch(r"monitor-\d{8}-\d{4}-manual", flow_run["name"]), flow_run["name"]
    query = {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
    artifacts = server.post("/artifacts/filter", query)
    by_key = {a["key"]: a for a in artifacts}
    assert {k: a["type"] for k, a in by_key.items()} == {
        "monitor-summary": "table",
        "monitor-new-stories": "markdown",
        "monitor-progress": "progress",
    }
    alerted = [s for s in load_sample_articles() if s.expect and not s.syndicated_from]
    assert by_key["monitor-new-stories"]["data"].startswith(f"# New stories ({len(alerted)})")
    assert by_key["monitor-progress"]["data"] == 100.0


def _wait_final(server: Server, flow_run_id: str, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_S
    while time.monotonic() < deadline:
        flow_run: dict[str, Any] = server.get(f"/flow_runs/{flow_run_id}")
        if flow_run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return flow_run
        time.sleep(1)
    raise AssertionError(f"the run did not finish; worker log:\n{log.read_text()[-3000:]}")
