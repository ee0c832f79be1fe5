"""`newswatch alerts retry`, `newswatch alerts test CHANNEL` and `newswatch digest`.

Registered by :func:`register` from newswatch/cli.py (which owns `newswatch alerts`, the
listing), so this module does not import the CLI module.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newswatch.cli_options import ConfigOption, ConfigPathLoader, SettingsLoader
from newswatch.models import Evidence, Match
from newswatch.prefect_env import configure_prefect_defaults


def _needs_prefect(channel: BaseModel) -> bool:
    """Whether the channel names a Prefect Secret block (``*_secret_block``) to load."""
    return any(
        getattr(channel, field)
        for field in type(channel).model_fields
        if field.endswith("_secret_block")
    )


def channel_test_message() -> Any:
    """A harmless alert that shows every part of the layout."""
    from alerts.message import AlertMessage

    return AlertMessage(
        alert_id=0,
        kind="new_story",
        headline="newswatch test message: this channel works",
        url="https://example.org/newswatch-test",
        outlet="newswatch",
        published_at=datetime.now(UTC),
        matches=(
            Match(
                watch="test",
                score=1.0,
                threshold=0.5,
                matched=True,
                terms=("test",),
                evidence=(Evidence("Sent by `newswatch alerts test`.", ("test",)),),
                reason="test message",
            ),
        ),
        lead="If you can read this, alerts will arrive here.",
        watch_titles={"test": "Channel test"},
    )


def register(
    app: typer.Typer,
    alerts_app: typer.Typer,
    load_settings: SettingsLoader,
    load_with_path: ConfigPathLoader,
    console: Console,
    errors: Console,
) -> None:
    """Add `alerts retry`, `alerts test` to `alerts_app` and `digest` to `app`."""

    @alerts_app.command("retry")
    def alerts_retry(
        ids: Annotated[
            list[int] | None,
            typer.Argument(help="Delivery ids (shown as #ID by `newswatch alerts --failed`)."),
        ] = None,
        all_failed: Annotated[bool, typer.Option("--all", help="Every failed delivery.")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Put failed deliveries back in the outbox; the next run sends them."""
        if bool(ids) == all_failed:
            errors.print("give delivery ids or --all (not both)", highlight=False)
            raise typer.Exit(2)
        from storage import repo
        from storage.db import Database

        settings = load_settings(config)
        db = Database(settings.database_url)
        db.create_all()
        try:
            with db.session() as session:
                requeued = repo.retry_failed_deliveries(
                    session, now=datetime.now(UTC), ids=None if all_failed else ids
                )
        finally:
            db.dispose()
        skipped = sorted(set(ids or []) - set(requeued))
        console.print(
            f"{len(requeued)} deliver{'y' if len(requeued) == 1 else 'ies'} back to pending"
            + (f": {', '.join(f'#{i}' for i in requeued)}" if requeued else ""),
            highlight=False,
        )
        if skipped:
            errors.print(
                f"not failed (or unknown), left alone: {', '.join(f'#{i}' for i in skipped)}",
                highlight=False,
            )

    @alerts_app.command("test")
    def alerts_test(
        channel_name: Annotated[
            str, typer.Argument(metavar="CHANNEL", help="A [channels.*] name.")
        ],
        config: ConfigOption = None,
    ) -> None:
        """Send a test message through a channel and report the result (secrets masked)."""
        from alerts.channels import DeliveryError, describe, send

        settings = load_settings(config)
        channel = settings.channels.get(channel_name)
        if channel is None:
            known = ", ".join(sorted(settings.channels)) or "none"
            errors.print(
                f"no channel {escape(channel_name)!r} (configured: {escape(known)})",
                highlight=False,
            )
            raise typer.Exit(2)
        if _needs_prefect(channel):
            configure_prefect_defaults()
            from flows.secrets import resolve_channel_secrets
            from flows.temporary_api import prefect_api

            with prefect_api():
                channel = resolve_channel_secrets(
                    {channel_name: channel},
                    warn=lambda text: errors.print(escape(text), highlight=False),
                )[channel_name]
        label = describe(channel)
        started = time.monotonic()
        try:
            send(channel, channel_test_message(), console=console)
        except DeliveryError as exc:
            kind = "temporary" if exc.retryable else "permanent"
            errors.print(
                f"[red]failed[/red] ({kind}): {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from None
        console.print(
            f"[green]sent[/green] to {escape(label)} in {time.monotonic() - started:.1f} s",
            highlight=False,
        )

    @app.command()
    def digest(
        config: ConfigOption = None,
        hours: Annotated[
            int, typer.Option("--hours", min=1, max=744, help="Length of the period.")
        ] = 24,
        preview: Annotated[
            bool,
            typer.Option("--preview", help="Print the digest here; send nothing (no Prefect)."),
        ] = False,
    ) -> None:
        """The period's stories per watch, most covered first: send it now (or --preview)."""
        settings, config_path = load_with_path(config)
        if preview:
            from alerts.digest import collect_digest
            from alerts.render_digest import digest_console
            from storage.db import Database

            until = datetime.now(UTC)
            titles = {n: w.title for n, w in settings.watches.items() if w.enabled}
            db = Database(settings.database_url)
            db.create_all()
            try:
                with db.session() as session:
                    summary = collect_digest(
                        session,
                        since=until - timedelta(hours=hours),
                        until=until,
                        watch_titles=titles,
                        max_stories=settings.alerts.digest_max_stories,
                    )
            finally:
                db.dispose()
            console.print(digest_console(summary))
            return
        configure_prefect_defaults()
        errors.print("running the digest flow (Prefect's local API may take 10-20 s)…")
        from flows.digest import digest as digest_flow
        from flows.temporary_api import TemporaryApiError, prefect_api

        try:
            with prefect_api():
                result = digest_flow(config_path=config_path, period_hours=hours)
        except (ValueError, TemporaryApiError) as exc:
            errors.print(f"[red]digest failed[/red]: {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None
        table = Table(title=f"digest: {result['stories']} stories, {result['articles']} articles")
        table.add_column("channel")
        table.add_column("result", overflow="fold")
        for name, outcome in result["channels"].items():
            table.add_row(escape(name), escape(outcome))
        console.print(table)
        if any(outcome != "sent" for outcome in result["channels"].values()):
            raise typer.Exit(1)
