"""The `newswatch` command line."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from newswatch.alerts_cli import register as register_alert_commands
from newswatch.cli_options import ConfigOption
from newswatch.config import (
    CONFIG_FILENAME,
    ConfigError,
    Settings,
    default_config_text,
    find_config,
    load_settings,
)
from newswatch.prefect_env import configure_prefect_defaults
from newswatch.stories_cli import register as register_story_commands
from newswatch.tables import alerts_table, articles_table, sources_table, summary_table

if TYPE_CHECKING:
    from classifiers.watches import Watch

app = typer.Typer(
    help=(
        "newswatch: monitor security and trade news for IP theft and trade deals.\n\n"
        "Polls news sources, extracts articles, classifies them against your watches, stores "
        "them and alerts on new stories. Start with `newswatch demo`, then `newswatch run`."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
config_app = typer.Typer(help="Show, write or check the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
eval_app = typer.Typer(help="Measure watches and stories on labeled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
watches_app = typer.Typer(help="Try the watches on a text, file or page.", no_args_is_help=True)
app.add_typer(watches_app, name="watches")

console = Console()
errors = Console(stderr=True)

WatchOption = Annotated[str | None, typer.Option("--watch", "-w", help="Only this watch.")]
LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, help="How many rows.")]


def _settings(config: Path | None) -> tuple[Settings, str | None]:
    """Validated settings and the absolute config path to hand to the flow, or exit 2."""
    try:
        path = find_config(config)
        return load_settings(path), str(path.resolve()) if path else None
    except ConfigError as exc:
        errors.print(
            f"[red]configuration error[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None


def run_monitor(config_path: str | None, *, force: bool = False) -> dict[str, Any]:
    """Run the monitor flow once in this process (against a temporary Prefect API served
    from this process if none is configured)."""
    configure_prefect_defaults()
    from flows.monitor import monitor  # imported late: importing Prefect takes seconds
    from flows.temporary_api import prefect_api

    with prefect_api():
        result: dict[str, Any] = asyncio.run(monitor(config_path=config_path, force=force))
    return result


@app.command()
def run(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Poll sources that are backing off after failures too."),
    ] = False,
) -> None:
    """Run one monitoring pass now: poll, fetch, extract, classify, store, alert."""
    settings, config_path = _settings(config)
    from storage.db import Database

    errors.print(f"database: {Database(settings.database_url).display_url}", highlight=False)
    errors.print(
        f"polling {len(settings.enabled_sources())} sources "
        "(Prefect's local API may take 10-20 s to start)…",
        highlight=False,
    )
    summary = _run_or_exit(config_path, force=force)
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        console.print(summary_table(summary))


def _run_or_exit(config_path: str | None, *, force: bool = False) -> dict[str, Any]:
    from flows.temporary_api import TemporaryApiError
    from storage.db import DatabaseError

    try:
        return run_monitor(config_path, force=force)
    except (ConfigError, DatabaseError, TemporaryApiError) as exc:
        errors.print(
            f"[red]monitor run failed[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Serve the deployments of prefect.yaml here, on their schedules, until Ctrl-C.

    Without PREFECT_API_URL a local Prefect server (with its UI) is started for them.
    """
    _, config_path = _settings(config)
    configure_prefect_defaults()
    if os.environ.get("PREFECT_API_URL"):
        _serve(config_path)
        return
    from flows.local_server import LocalServerError, local_prefect_server

    errors.print("starting a local Prefect server (10-30 s)…", highlight=False)
    try:
        with local_prefect_server() as api_url:
            # Set before Prefect is first imported, so its settings point at this server.
            os.environ["PREFECT_API_URL"] = api_url
            errors.print(f"Prefect UI: {api_url.removesuffix('/api')}", highlight=False)
            _serve(config_path)
    except LocalServerError as exc:
        errors.print(f"[red]cannot serve[/red]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None


def _serve(config_path: str | None) -> None:
    from flows.deployments import DeploymentConfigError, serve_all

    try:
        serve_all(config_path)
    except DeploymentConfigError as exc:
        errors.print(f"[red]cannot serve[/red]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def demo(
    database: Annotated[
        Path | None,
        typer.Option(help="SQLite file to keep the demo's data in (default: a temporary one)."),
    ] = None,
) -> None:
    """Run the real pipeline against a local sample newsroom on 127.0.0.1 and show the alerts."""
    from newswatch.demo import run_demo

    run_demo(console, database)


@app.command()
def sources(config: ConfigOption = None) -> None:
    """The configured sources with their last poll: status, failures, articles stored."""
    settings, _ = _settings(config)
    console.print(sources_table(settings))


@app.command()
def articles(
    config: ConfigOption = None, watch: WatchOption = None, limit: LimitOption = 20
) -> None:
    """Stored articles, newest first, with the watches they matched."""
    settings, _ = _settings(config)
    console.print(articles_table(settings, watch=watch, limit=limit))


alerts_app = typer.Typer(
    help="Alerts with their delivery status; `retry` failed deliveries; `test` a channel.",
    invoke_without_command=True,
)
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    config: ConfigOption = None,
    watch: WatchOption = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only alerts with a failed delivery.")
    ] = False,
    limit: LimitOption = 20,
) -> None:
    """Alerts, newest first, with their delivery status per channel (#ID for `retry`)."""
    if ctx.invoked_subcommand is not None:
        return
    settings, _ = _settings(config)
    console.print(
        alerts_table(settings, watch=watch, status="failed" if failed else None, limit=limit)
    )


@config_app.command("show")
def config_show() -> None:
    """Print the built-in default configuration."""
    console.print(default_config_text(), markup=False, highlight=False)


@config_app.command("init")
def config_init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path(CONFIG_FILENAME),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the default configuration to a file for you to edit."""
    if path.exists() and not force:
        errors.print(f"{path} exists; use --force to overwrite it", highlight=False)
        raise typer.Exit(1)
    path.write_text(default_config_text(), encoding="utf-8")
    console.print(f"wrote {path}", highlight=False)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration and summarise it."""
    settings, path = _settings(config)
    console.print(
        f"configuration OK ({path or 'built-in defaults'}): "
        f"{len(settings.enabled_sources())} enabled sources, "
        f"{sum(w.enabled for w in settings.watches.values())} watches, "
        f"{len(settings.channels)} channels",
        highlight=False,
    )


def _compiled_watches(settings: Settings, only: list[str] | None) -> list[Watch]:
    """The enabled watches (or the ones named, enabled or not), compiled; exit 2 on a name
    that is not configured."""
    from classifiers.watches import compile_watch

    unknown = [name for name in only or () if name not in settings.watches]
    if unknown:
        errors.print(
            f"[red]no such watch[/red]: {escape(', '.join(unknown))} "
            f"(configured: {escape(', '.join(settings.watches))})",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    return [
        compile_watch(name, spec)
        for name, spec in settings.watches.items()
        if (name in only if only else spec.enabled)
    ]


WatchesOption = Annotated[
    list[str] | None, typer.Option("--watch", "-w", help="Only this watch (repeatable).")
]


@eval_app.command("classify")
def eval_classify(
    path: Annotated[
        Path, typer.Argument(help="JSON Lines: `text` and a 0/1 field per watch.", dir_okay=False)
    ],
    config: ConfigOption = None,
    watch: WatchesOption = None,
    show_errors: Annotated[
        bool,
        typer.Option("--errors", help="List false positives and negatives with their evidence."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Precision, recall, F1 and confusion counts of the configured watches on labeled records.

    The first line of each text is its title. Only watches both configured and labeled are
    reported.
    """
    from newswatch.evaluate import EvalDataError, evaluate, read_records, render_evaluation

    settings, _ = _settings(config)
    watches = _compiled_watches(settings, watch)
    try:
        evaluation = evaluate(watches, read_records(path))
    except EvalDataError as exc:
        errors.print(
            f"[red]cannot evaluate[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    if not evaluation.results:
        errors.print(
            "[red]nothing to evaluate[/red]: no watch is both configured "
            f"({escape(', '.join(w.name for w in watches))}) and labeled in {escape(str(path))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    if as_json:
        console.print_json(json.dumps(evaluation.as_json(errors=show_errors)))
    else:
        console.print(render_evaluation(evaluation, errors=show_errors), highlight=False)


@eval_app.command("extract")
def eval_extract(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Pages as KEY.html(.gz), in DIR or DIR/html (the ScrapingHub benchmark layout).",
            file_okay=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help='Write {KEY: {"articleBody": TEXT}} here.'),
    ],
) -> None:
    """Extract every page's article text and write the predictions as JSON.

    Where a ground-truth.json (the benchmark's) is beside the pages, also print the score
    (F1, precision, recall over word 4-shingles).
    """
    from newswatch.extract_eval import (
        EvalDataError,
        evaluate_extraction,
        load_eval_set,
        predictions_json,
        render_score,
    )

    try:
        eval_set = load_eval_set(directory)
    except EvalDataError as exc:
        errors.print(
            f"[red]cannot evaluate[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    result = evaluate_extraction(eval_set)
    try:
        output.write_text(predictions_json(result.predictions) + "\n", encoding="utf-8")
    except OSError as exc:
        errors.print(
            f"[red]cannot write predictions[/red]: {escape(str(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    console.print(
        f"{len(result.predictions)} pages, {len(result.failures)} without text; "
        f"predictions in {escape(str(output))}",
        highlight=False,
        soft_wrap=True,
    )
    if result.score is not None:
        console.print(render_score("newswatch", result.score), highlight=False)


@watches_app.command("check")
def watches_check(
    source: Annotated[
        str, typer.Argument(metavar="TEXT|FILE|URL", help="Text, a text or HTML file, or a URL.")
    ],
    config: ConfigOption = None,
    watch: WatchesOption = None,
    title: Annotated[
        str | None,
        typer.Option(help="The title (default: a page's title, else the first line)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score a text, file or web page against the watches and show the evidence.

    A URL is fetched and extracted as `newswatch run` would (the config's [http] limits and
    allowed_hosts apply).
    """
    from newswatch.watch_check import (
        CheckInputError,
        check,
        check_json,
        read_input,
        render_check,
    )

    settings, _ = _settings(config)
    watches = _compiled_watches(settings, watch)
    try:
        item = read_input(source, settings.http, title=title)
    except CheckInputError as exc:
        errors.print(
            f"[red]cannot check[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    matches = check(watches, item)
    if as_json:
        console.print_json(json.dumps(check_json(item, matches)))
    else:
        console.print(render_check(item, watches, matches), highlight=False)


def _settings_only(config: Path | None) -> Settings:
    return _settings(config)[0]


# `stories`, `story ID` and `eval stories` live in their own module.
register_story_commands(app, eval_app, _settings_only, console, errors)
# `alerts retry`, `alerts test CHANNEL` and `digest` too.
register_alert_commands(app, alerts_app, _settings_only, _settings, console, errors)


if __name__ == "__main__":
    app()
