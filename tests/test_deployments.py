"""prefect.yaml: valid for `prefect deploy`, and the one definition `newswatch serve` uses."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from flows.deployments import (
    PREFECT_YAML,
    SCHEDULE_KEYS,
    TOP_LEVEL_KEYS,
    DeploymentConfigError,
    build_deployments,
    load_deployments,
    load_flow,
)


def test_prefect_yaml_entrypoints_import_and_parameters_match_the_flows() -> None:
    document = yaml.safe_load(PREFECT_YAML.read_text())
    assert set(document) <= TOP_LEVEL_KEYS
    entries = load_deployments()
    assert {e["name"] for e in entries} == {"monitor", "digest"}
    for entry in entries:
        flow = load_flow(entry["entrypoint"])
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(entry["parameters"]) <= accepted, entry["name"]
        for schedule in entry["schedules"]:
            assert set(schedule) <= SCHEDULE_KEYS
            assert set(schedule.get("parameters") or {}) <= accepted
        assert entry["work_pool"]["name"] == "newswatch"


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    text = PREFECT_YAML.read_text()
    for good, bad in [
        ("    schedules:", "    schedulez:"),
        ("    tags:", "    tag:"),
        ("        timezone: UTC", "        time_zone: UTC"),
        ("      work_queue_name:", "      queue:"),
        ("prefect-version:", "prefect_version:"),
    ]:
        path = tmp_path / "prefect.yaml"
        path.write_text(text.replace(good, bad, 1))
        with pytest.raises(DeploymentConfigError, match="unknown key"):
            load_deployments(path)


def _one_deployment(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "prefect.yaml"
    path.write_text("deployments:\n  - name: m\n    entrypoint: flows/monitor.py:monitor\n" + body)
    return path


def test_parameters_the_flow_does_not_take_are_refused(tmp_path: Path) -> None:
    path = _one_deployment(tmp_path, "    parameters:\n      config: x.toml\n")
    with pytest.raises(DeploymentConfigError, match="takes no parameter"):
        build_deployments(path=path)
    path = _one_deployment(
        tmp_path, "    schedules:\n      - cron: '0 * * * *'\n        parameters: {forced: true}\n"
    )
    with pytest.raises(DeploymentConfigError, match="forced"):
        build_deployments(path=path)


def test_per_schedule_parameters_are_kept(tmp_path: Path) -> None:
    path = _one_deployment(
        tmp_path,
        "    schedules:\n"
        "      - cron: '*/15 * * * *'\n"
        "      - cron: '0 3 * * *'\n"
        "        timezone: Europe/Brussels\n"
        "        parameters: {force: true}\n"
        "      - interval: 3600\n"
        "        active: false\n",
    )
    [deployment] = build_deployments(path=path)
    quarter, nightly, hourly = deployment.schedules or []
    assert quarter.parameters == {} and nightly.parameters == {"force": True}
    assert nightly.schedule.timezone == "Europe/Brussels"  # type: ignore[union-attr]
    assert hourly.active is False


def test_monitor_deployment_runs_every_15_minutes_without_overlap() -> None:
    [monitor] = [d for d in build_deployments("/etc/newswatch.toml") if d.name == "monitor"]
    [schedule] = monitor.schedules or []
    assert schedule.schedule.cron == "*/15 * * * *"  # type: ignore[union-attr]
    assert monitor.parameters == {"config_path": "/etc/newswatch.toml"}
    assert monitor.concurrency_limit == 1
    assert monitor.concurrency_options is not None
    assert monitor.concurrency_options.collision_strategy == "CANCEL_NEW"
    assert "newswatch" in (monitor.tags or [])


def test_a_broken_prefect_yaml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "prefect.yaml"
    bad.write_text("deployments:\n  - name: x\n    entrypoint: flows/nope.py:nope\n")
    with pytest.raises(DeploymentConfigError, match="unknown entrypoint"):
        build_deployments(path=bad)
    with pytest.raises(DeploymentConfigError, match="not found"):
        build_deployments(path=tmp_path / "missing.yaml")


def test_digest_deployment_runs_daily_at_eight_in_its_timezone() -> None:
    [digest] = [d for d in build_deployments("/etc/newswatch.toml") if d.name == "digest"]
    [schedule] = digest.schedules or []
    assert schedule.schedule.cron == "0 8 * * *"  # type: ignore[union-attr]
    assert schedule.schedule.timezone == "UTC"  # type: ignore[union-attr]
    assert digest.parameters == {"config_path": "/etc/newswatch.toml", "period_hours": 24}
    assert digest.concurrency_limit == 1
    assert "digest" in (digest.tags or [])
