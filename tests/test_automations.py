"""The failure-notification automation: what it matches, and creating it through the API."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest

from flows.automations import BODY, DEFAULT_NAME, build_automation, main


def test_it_fires_on_failed_or_crashed_runs_of_monitor_only() -> None:
    block_id = uuid4()
    automation = build_automation(block_id)
    trigger: Any = automation.trigger
    assert trigger.type == "event" and trigger.posture == "Reactive"
    assert trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert trigger.threshold == 1
    [related] = (
        trigger.match_related
        if isinstance(trigger.match_related, list)
        else [trigger.match_related]
    )
    assert related.model_dump() == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "monitor",
    }
    [action] = automation.actions
    assert action.type == "send-notification"
    assert action.block_document_id == block_id  # type: ignore[union-attr]
    assert "{{ flow_run.state.message }}" in BODY and "ui_url" in BODY


def test_show_prints_it_without_an_api(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--flow", "digest"]) == 0
    out = capsys.readouterr().out
    assert '"prefect.resource.name": "digest"' in out and "send-notification" in out


@pytest.mark.usefixtures("prefect_harness")
def test_create_registers_it_once_with_the_block(capsys: pytest.CaptureFixture[str]) -> None:
    from prefect import get_client
    from prefect.blocks.notifications import SlackWebhook

    block_id = SlackWebhook(url="http://127.0.0.1:9/hook").save("nw-test-ops", overwrite=True)
    assert main(["create", "--block", "nw-test-ops", "--block-type", "slack-webhook"]) == 0
    assert main(["create", "--block", "nw-test-ops"]) == 0  # rerun replaces it

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_automations_by_name(DEFAULT_NAME)

    [automation] = asyncio.run(read())
    assert automation.actions[0].block_document_id == block_id
    assert automation.enabled
    assert "created" in capsys.readouterr().out
    assert main(["create", "--block", "nw-test-no-such-block"]) == 1
    assert "cannot create the automation" in capsys.readouterr().err
