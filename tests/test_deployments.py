"""prefect.yaml: valid for `prefect deploy`, and the one definition `newswatch serve` uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.deployments import PREFECT_YAML, DeploymentConfigError, build_deployments

# Keys prefect.yaml accepts; Prefect silently ignores others (a misspelt `schedulez:`
# would deploy with no schedule), so this test is the guard.
TOP_LEVEL = {"name", "prefect-version", "build", "push", "pull", "deployments"}
DEPLOYMENT = {
    "name",
    "version",
    "description",
    "entrypoint",
    "tags",
    "parameters",
    "schedules",
    "concurrency_limit",
    "paused",
    "work_pool",
    "triggers",
    "enforce_parameter_schema",
}
SCHEDULE = {"cron", "timezone", "interval", "anchor_date", "rrule", "active", "parameters"}


def test_prefect_yaml_uses_only_known_keys() -> None:
    document = yaml.safe_load(PREFECT_YAML.read_text())
    assert set(document) <= TOP_LEVEL
    for deployment in document["deployments"]:
        assert set(deployment) <= DEPLOYMENT, deployment["name"]
        for schedule in deployment.get("schedules", []):
            assert set(schedule) <= SCHEDULE


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
