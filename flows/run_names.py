"""Flow-run names that say when and why a run started: ``monitor-20261207-1145-scheduled``.

The trigger comes from the run itself: a run the scheduler created (``auto_scheduled``) is
``scheduled``, any other run of a deployment (UI, API, `prefect deployment run`, automation)
is ``manual``, and a flow called directly in a process (`newswatch run`, the demo, tests) is
``cli``. The time is the run's scheduled start, so a late scheduled run keeps its slot's name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext

Trigger = Literal["scheduled", "manual", "cli"]


def _current_run() -> FlowRun | None:
    context = FlowRunContext.get()
    return context.flow_run if context else None


def run_trigger(flow_run: FlowRun | None = None) -> Trigger:
    """How the flow run (default: the current one) was started; ``cli`` if not deployed."""
    flow_run = flow_run or _current_run()
    if flow_run is None or flow_run.deployment_id is None:
        return "cli"
    return "scheduled" if flow_run.auto_scheduled else "manual"


def run_started_at(flow_run: FlowRun | None = None) -> datetime:
    """The run's expected start (its schedule slot), else now; always in UTC."""
    flow_run = flow_run or _current_run()
    start = flow_run.expected_start_time if flow_run is not None else None
    return start.astimezone(UTC) if start is not None else datetime.now(UTC)


def format_run_name(flow_name: str, started_at: datetime, trigger: Trigger) -> str:
    return f"{flow_name}-{started_at.astimezone(UTC):%Y%m%d-%H%M}-{trigger}"


def run_namer(flow_name: str) -> Callable[[], str]:
    """A `flow_run_name` callable for `@flow`: Prefect calls it once the run exists."""

    def name() -> str:
        return format_run_name(flow_name, run_started_at(), run_trigger())

    name.__name__ = f"{flow_name}_run_name"
    return name
