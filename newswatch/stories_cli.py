"""The story commands: `newswatch stories`, `newswatch story ID`, `newswatch eval stories`.

Registered on the main app by :func:`register` (from newswatch/cli.py), so this module owns
its commands without importing the CLI module (which imports it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from newswatch.cli_options import ConfigOption, SettingsLoader


def register(
    app: typer.Typer,
    eval_app: typer.Typer,
    load_settings: SettingsLoader,
    console: Console,
    errors: Console,
) -> None:
    """Add the story commands to `app` and `eval stories` to `eval_app`."""

    @app.command("stories")
    def stories(
        config: ConfigOption = None,
        watch: Annotated[str | None, typer.Option("--watch", "-w", help="Only this watch.")] = None,
        limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many rows.")] = 20,
    ) -> None:
        """Stories, most recently seen first: headline, outlets, articles, first/last seen.

        A story is one real-world event, however many outlets reported it.
        """
        from newswatch.tables import stories_table

        console.print(stories_table(load_settings(config), watch=watch, limit=limit))

    @app.command("story")
    def story(
        story_id: Annotated[int, typer.Argument(metavar="ID", help="A story id.")],
        config: ConfigOption = None,
    ) -> None:
        """One story with its articles and its storyline."""
        from newswatch.tables import story_view

        view = story_view(load_settings(config), story_id)
        if view is None:
            errors.print(f"[red]no story {story_id}[/red]", highlight=False)
            raise typer.Exit(1)
        console.print(view)

    @eval_app.command("stories")
    def eval_stories(
        path: Annotated[
            Path,
            typer.Argument(
                help="JSON Lines: `text`, `event`, `storyline`, `event_date` per article.",
                dir_okay=False,
            ),
        ],
        config: ConfigOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Measure story clustering, alerts and storyline links on labeled articles.

        The articles are replayed in date order through the pipeline's own story assignment
        (on a temporary SQLite file, with the configured watches).
        """
        from flows.pipeline import StoryContext
        from newswatch.story_eval import (
            StoryDataError,
            evaluate_stories,
            evaluation_table,
            read_story_records,
            replay,
        )

        settings = load_settings(config)
        base = StoryContext.from_settings(settings)
        # No channels: a replay queues no delivery.
        context = StoryContext(base.watches, [], base.near_duplicate_days)
        try:
            records = read_story_records(path)
        except StoryDataError as exc:
            errors.print(
                f"[red]cannot evaluate[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None
        result = evaluate_stories(records, replay(records, context))
        if as_json:
            console.print_json(json.dumps(result.as_json()))
        else:
            console.print(evaluation_table(result, str(path)), highlight=False)
