"""Flow-run names: the time of the run's slot and what started it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

from prefect.client.schemas.objects import FlowRun

from flows.run_names import format_run_name, run_started_at, run_trigger

SLOT = datetime(2026, 12, 7, 9, 15, tzinfo=timezone(timedelta(hours=1)))


def _run(**fields: object) -> FlowRun:
    return FlowRun(flow_id=uuid4(), expected_start_time=SLOT, **fields)  # type: ignore[arg-type]


def test_the_trigger_comes_from_the_run() -> None:
    assert run_trigger(_run(deployment_id=uuid4(), auto_scheduled=True)) == "scheduled"
    assert run_trigger(_run(deployment_id=uuid4(), auto_scheduled=False)) == "manual"
    assert run_trigger(_run()) == "cli"
    assert run_trigger() == "cli"  # no run at all


def test_the_name_uses_the_scheduled_slot_in_utc() -> None:
    started = run_started_at(_run(deployment_id=uuid4(), auto_scheduled=True))
    assert started == datetime(2026, 12, 7, 8, 15, tzinfo=UTC)
    assert format_run_name("monitor", started, "scheduled") == "monitor-20261207-0815-scheduled"
