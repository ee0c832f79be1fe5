"""Deployments as declared in prefect.yaml, for `newswatch serve` (one definition, not two)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import yaml
from prefect import Flow, serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule

from flows.digest import digest
from flows.monitor import monitor

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
FLOWS: dict[str, Flow[..., Any]] = {
    "flows/monitor.py:monitor": monitor,
    "flows/digest.py:digest": digest,
}


class DeploymentConfigError(ValueError):
    pass


def load_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DeploymentConfigError(f"{path} not found: serve runs from a newswatch checkout")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    deployments = document.get("deployments") if isinstance(document, dict) else None
    if not isinstance(deployments, list) or not deployments:
        raise DeploymentConfigError(f"{path}: no `deployments` list")
    return deployments


def _schedules(entry: dict[str, Any]) -> list[Schedule]:
    schedules: list[Schedule] = []
    for item in entry.get("schedules") or []:
        if "cron" in item:
            schedules.append(
                Cron(item["cron"], timezone=item.get("timezone"), active=item.get("active", True))
            )
        elif "interval" in item:
            schedules.append(Interval(item["interval"], active=item.get("active", True)))
        else:
            raise DeploymentConfigError(
                f"deployment {entry.get('name')!r}: unknown schedule {item}"
            )
    return schedules


def _concurrency(value: Any) -> int | ConcurrencyLimitConfig | None:
    if value is None or isinstance(value, int):
        return value
    return ConcurrencyLimitConfig.model_validate(value)


def serve_all(config_path: str | None = None, path: Path = PREFECT_YAML) -> None:
    """Serve every deployment in prefect.yaml from this process, with its schedules."""
    serve(*build_deployments(config_path, path))


def build_deployments(
    config_path: str | None = None, path: Path = PREFECT_YAML
) -> list[RunnerDeployment]:
    """prefect.yaml's deployments as runnable objects, the config path set if given."""
    runnable = []
    for entry in load_deployments(path):
        flow = FLOWS.get(entry.get("entrypoint", ""))
        if flow is None:
            raise DeploymentConfigError(f"unknown entrypoint {entry.get('entrypoint')!r}")
        parameters = dict(entry.get("parameters") or {})
        if config_path is not None:
            parameters["config_path"] = config_path
        runnable.append(
            # Called from sync code, to_deployment returns the deployment, not a coroutine.
            cast(
                RunnerDeployment,
                flow.to_deployment(
                    name=entry["name"],
                    description=entry.get("description"),
                    tags=entry.get("tags"),
                    parameters=parameters,
                    schedules=_schedules(entry),
                    version=entry.get("version"),
                    concurrency_limit=_concurrency(entry.get("concurrency_limit")),
                ),
            )
        )
    return runnable
