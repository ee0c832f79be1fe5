"""A Prefect automation that notifies when a monitor run fails or crashes.

prefect.yaml's `triggers` can only run deployments, not send notifications, so this creates
the automation through the Prefect client (against PREFECT_API_URL):

    python -m flows.automations create --block-type slack-webhook --block newswatch-ops
    python -m flows.automations show   # the automation as JSON, nothing created

The block is any Prefect notification block (`slack-webhook`, `microsoft-teams-webhook`,
`email`, `apprise`-style `custom-webhook`, ...) created beforehand in the UI or with
`SlackWebhook(url=...).save("newswatch-ops")`. Creating again replaces the automation of the
same name, so the command can be rerun after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from uuid import UUID

from prefect import get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

DEFAULT_NAME = "newswatch: monitor run failed"
FAILURE_EVENTS = frozenset({"prefect.flow-run.Failed", "prefect.flow-run.Crashed"})
# Placeholder id for `show`: the real one is the notification block's.
NO_BLOCK = UUID(int=0)

SUBJECT = "newswatch: {{ flow.name }} run {{ flow_run.name }} {{ flow_run.state.name }}"
BODY = """\
Flow run {{ flow_run.name }} of {{ flow.name }} is {{ flow_run.state.name }}.
{{ flow_run.state.message }}
Open it: {{ flow_run|ui_url }}
"""


def build_automation(
    block_document_id: UUID, flow_name: str = "monitor", name: str = DEFAULT_NAME
) -> AutomationCore:
    """Notify through the block each time a run of `flow_name` fails or crashes."""
    return AutomationCore(
        name=name,
        description=f"Sends a notification when a `{flow_name}` flow run fails or crashes.",
        enabled=True,
        tags=["newswatch"],
        trigger=EventTrigger(
            expect=set(FAILURE_EVENTS),
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
            for_each={"prefect.resource.id"},  # one notification per failed run
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[SendNotification(block_document_id=block_document_id, subject=SUBJECT, body=BODY)],
    )


async def create_automation(
    block_type: str, block_name: str, flow_name: str = "monitor", name: str = DEFAULT_NAME
) -> UUID:
    """Create (or replace) the automation on the configured Prefect API; its id."""
    async with get_client() as client:
        block = await client.read_block_document_by_name(
            block_name, block_type_slug=block_type, include_secrets=False
        )
        for existing in await client.read_automations_by_name(name):
            await client.delete_automation(existing.id)
        return await client.create_automation(build_automation(block.id, flow_name, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.automations", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create or replace the automation")
    create.add_argument("--block", required=True, help="notification block name")
    create.add_argument("--block-type", default="slack-webhook", help="its block type slug")
    show = commands.add_parser("show", help="print the automation as JSON")
    for command in (create, show):
        command.add_argument("--flow", default="monitor", help="flow to watch")
        command.add_argument("--name", default=DEFAULT_NAME, help="automation name")
    args = parser.parse_args(argv)
    if args.command == "show":
        automation = build_automation(NO_BLOCK, args.flow, args.name)
        print(json.dumps(automation.model_dump(mode="json"), indent=2))
        return 0
    try:
        automation_id = asyncio.run(
            create_automation(args.block_type, args.block, args.flow, args.name)
        )
    except Exception as exc:  # a missing block or no API: say which, no traceback
        print(f"cannot create the automation: {exc}", file=sys.stderr)
        return 1
    print(f"automation {args.name!r} created: {automation_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
