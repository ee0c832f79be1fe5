"""Options and callables shared by the CLI's command modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from newswatch.config import CONFIG_FILENAME, Settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=f"Config file (default: $NEWSWATCH_CONFIG or ./{CONFIG_FILENAME}).",
        dir_okay=False,
    ),
]
# The CLI's config loaders, passed to the command modules so they report errors one way.
SettingsLoader = Callable[[Path | None], Settings]
ConfigPathLoader = Callable[[Path | None], tuple[Settings, str | None]]
