"""Deployments as declared in prefect.yaml, for `newswatch serve` (one definition, not two).

Every entry of prefect.yaml is served: its entrypoint's flow is imported generically, its
schedules (cron, interval or rrule, each with its own `parameters`) and concurrency limit
taken as `prefect deploy` takes them. prefect.yaml itself is checked here, because Prefect
silently ignores unknown keys (a misspelt `schedulez:` deploys with no schedule).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any, cast

import yaml
from prefect import Flow, serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, RRule, Schedule

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"

# The keys Prefect 3.8's prefect.yaml understands (and newswatch uses).
TOP_LEVEL_KEYS = frozenset({"name", "prefect-version", "build", "push", "pull", "deployments"})
DEPLOYMENT_KEYS = frozenset(
    {
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
)
SCHEDULE_KEYS = frozenset(
    {"cron", "interval", "rrule", "timezone", "anchor_date", "active", "parameters", "slug"}
)
WORK_POOL_KEYS = frozenset({"name", "work_queue_name", "job_variables"})


class DeploymentConfigError(ValueError):
    pass


def _unknown(where: str, keys: Any, allowed: frozenset[str]) -> None:
    extra = sorted(set(keys) - allowed)
    if extra:
        raise DeploymentConfigError(f"{where}: unknown key(s) {', '.join(extra)}")


def load_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """prefect.yaml's deployment entries, every key checked against what Prefect reads."""
    if not path.is_file():
        raise DeploymentConfigError(f"{path} not found: serve runs from a newswatch checkout")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    deployments = document.get("deployments") if isinstance(document, dict) else None
    if not isinstance(deployments, list) or not deployments:
        raise DeploymentConfigError(f"{path}: no `deployments` list")
    _unknown(str(path), document, TOP_LEVEL_KEYS)
    for entry in deployments:
        where = f"{path.name}: deployment {entry.get('name')!r}"
        _unknown(where, entry, DEPLOYMENT_KEYS)
        _unknown(f"{where}: work_pool", entry.get("work_pool") or {}, WORK_POOL_KEYS)
        for schedule in entry.get("schedules") or []:
            _unknown(f"{where}: schedule", schedule, SCHEDULE_KEYS)
    return deployments


def load_flow(entrypoint: str) -> Flow[..., Any]:
    """The flow an entrypoint (``flows/monitor.py:monitor``) names, imported as a module.

    Imported by module name rather than by file path, so the served flow is the very object
    the rest of newswatch imports (a path load would make a second copy of the module).
    """
    path, _, attribute = entrypoint.rpartition(":")
    if not path.endswith(".py") or not attribute:
        raise DeploymentConfigError(f"unknown entrypoint {entrypoint!r}: expected FILE.py:FLOW")
    module_name = path.removesuffix(".py").replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DeploymentConfigError(f"unknown entrypoint {entrypoint!r}: {exc}") from None
    flow = getattr(module, attribute, None)
    if not isinstance(flow, Flow):
        raise DeploymentConfigError(f"unknown entrypoint {entrypoint!r}: no flow {attribute!r}")
    return flow


def _check_parameters(entry: dict[str, Any], flow: Flow[..., Any], given: dict[str, Any]) -> None:
    accepted = set(inspect.signature(flow.fn).parameters)
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise DeploymentConfigError(
            f"deployment {entry.get('name')!r}: flow {flow.name!r} takes no parameter(s) "
            f"{', '.join(unknown)} (it takes {', '.join(sorted(accepted))})"
        )


def _schedules(entry: dict[str, Any], flow: Flow[..., Any]) -> list[Schedule]:
    schedules: list[Schedule] = []
    for item in entry.get("schedules") or []:
        parameters = dict(item.get("parameters") or {})
        _check_parameters(entry, flow, parameters)
        common: dict[str, Any] = {
            "timezone": item.get("timezone"),
            "active": item.get("active", True),
            "parameters": parameters,
            "slug": item.get("slug"),
        }
        if "cron" in item:
            schedules.append(Cron(item["cron"], **common))
        elif "interval" in item:
            schedules.append(
                Interval(item["interval"], anchor_date=item.get("anchor_date"), **common)
            )
        elif "rrule" in item:
            schedules.append(RRule(item["rrule"], **common))
        else:
            raise DeploymentConfigError(
                f"deployment {entry.get('name')!r}: schedule without cron, interval or rrule"
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
        flow = load_flow(str(entry.get("entrypoint", "")))
        parameters = dict(entry.get("parameters") or {})
        _check_parameters(entry, flow, parameters)
        if config_path is not None and "config_path" in inspect.signature(flow.fn).parameters:
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
                    schedules=_schedules(entry, flow),
                    version=entry.get("version"),
                    concurrency_limit=_concurrency(entry.get("concurrency_limit")),
                    paused=entry.get("paused"),
                    enforce_parameter_schema=entry.get("enforce_parameter_schema", True),
                ),
            )
        )
    return runnable
