"""Configuration: one TOML file over shipped defaults, with NEWSWATCH_* environment overrides.

Each room owns the schema of its own part (classifiers.watches.WatchSpec,
alerts.channels.ChannelConfig); this module assembles them and reports errors by file,
line and key.
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from alerts.channels import CHANNEL_TYPES, ChannelConfig
from classifiers.watch_spec import WatchName, WatchSpec
from newswatch.models import SourceKind

CONFIG_FILENAME = "newswatch.toml"
# Sections a user file replaces as a whole, so removing a default source is just leaving it out.
WHOLE_SECTIONS = ("sources", "watches", "channels")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, line and key at fault."""


def default_database_url() -> str:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'newswatch' / 'newswatch.db'}"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(Strict):
    name: str
    kind: SourceKind
    url: str
    enabled: bool = True
    max_new_links: int | None = Field(default=None, ge=1)

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
            raise ValueError(f"must be an http(s) URL, got {url!r}")
        return url


class HttpConfig(Strict):
    user_agent: str = "newswatch/0.1 (news monitoring; +https://github.com/newswatch/newswatch)"
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=20.0, gt=0)
    total_timeout_s: float = Field(default=60.0, gt=0)
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_concurrency: int = Field(default=2, ge=1, le=16)
    # Private, loopback and link-local addresses are refused unless listed here (or allowed
    # wholesale): a feed must not make newswatch reach into the user's own network.
    allowed_hosts: list[str] = Field(default_factory=list)
    allow_private_addresses: bool = False
    max_new_links_per_source: int = Field(default=100, ge=1)
    max_link_attempts: int = Field(default=3, ge=1)
    # Politeness towards each site.
    contact_url: str = ""  # added to the User-Agent so site owners know whom to ask
    per_host_min_delay_s: float = Field(default=1.0, ge=0)
    respect_robots: bool = True
    max_retries: int = Field(default=2, ge=0, le=10)  # per request, with backoff and jitter
    max_retry_wait_s: float = Field(default=60.0, ge=0)
    # A source whose poll keeps failing waits about base * 2**(failures-1) (capped, with
    # jitter) before it is polled again, in later runs; 0 polls it every run.
    failure_backoff_base_s: float = Field(default=900.0, ge=0)
    failure_backoff_max_s: float = Field(default=21_600.0, ge=0)


class AlertConfig(Strict):
    max_attempts: int = Field(default=5, ge=1)
    retry_base_s: float = Field(default=60.0, gt=0)
    retry_max_s: float = Field(default=3600.0, gt=0)
    claim_lease_s: float = Field(default=600.0, gt=0)  # a claim older than this was abandoned
    digest_channels: list[str] | None = None  # channels the daily digest goes to (None: all)
    digest_max_stories: int = Field(default=15, ge=1, le=100)  # per watch


class PipelineConfig(Strict):
    extract_workers: int = Field(default=2, ge=1, le=64)
    poll_retry_delay_s: float = Field(default=10.0, ge=0)  # before a failed poll's one retry
    near_duplicate_days: int = Field(default=14, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSWATCH_", env_nested_delimiter="__", extra="forbid"
    )

    database_url: str = Field(default_factory=default_database_url)
    http: HttpConfig = Field(default_factory=HttpConfig)
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    watches: dict[WatchName, WatchSpec] = Field(default_factory=dict)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        # `[sources.krebs]` names the source "krebs"; the same for channels.
        if isinstance(data, dict):
            for section in ("sources", "channels"):
                table = data.get(section)
                if isinstance(table, dict):
                    data[section] = {
                        key: ({"name": key, **value} if isinstance(value, dict) else value)
                        for key, value in table.items()
                    }
        return data

    @model_validator(mode="after")
    def _something_to_do(self) -> Settings:
        if not any(s.enabled for s in self.sources.values()):
            raise ValueError("no enabled source: add at least one [sources.NAME] table")
        if not any(w.enabled for w in self.watches.values()):
            raise ValueError("no enabled watch: add at least one [watches.NAME] table")
        if not self.channels:
            raise ValueError("no alert channel: add at least one [channels.NAME] table")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)

    def enabled_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources.values() if s.enabled]


def default_config_text() -> str:
    return resources.files("newswatch").joinpath("defaults.toml").read_text(encoding="utf-8")


def find_config(path: str | os.PathLike[str] | None) -> Path | None:
    """The config file to use: the one given, $NEWSWATCH_CONFIG, or ./newswatch.toml."""
    given = path or os.environ.get("NEWSWATCH_CONFIG")
    if given:
        found = Path(given).expanduser()
        if not found.is_file():
            raise ConfigError(f"config file not found: {found}")
        return found
    local = Path.cwd() / CONFIG_FILENAME
    return local if local.is_file() else None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load and validate the configuration, or raise ConfigError naming what is wrong."""
    data = _parse("the built-in defaults", default_config_text())
    config_path = find_config(path)
    user_text = ""
    if config_path is not None:
        user_text = config_path.read_text(encoding="utf-8")
        user = _parse(str(config_path), user_text)
        data = _merge(data, user)
    try:
        return Settings(**data)
    except ValidationError as exc:
        where = str(config_path) if config_path else "configuration"
        raise ConfigError(_describe(exc, where, user_text)) from None


def _parse(where: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None


def _merge(defaults: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in user.items():
        if key in WHOLE_SECTIONS or not isinstance(value, dict):
            merged[key] = value
        else:
            merged[key] = {**defaults.get(key, {}), **value}
    return merged


def _describe(exc: ValidationError, where: str, text: str) -> str:
    lines = [f"{where}: invalid configuration ({exc.error_count()} problem(s))"]
    for error in exc.errors():
        loc = [
            str(part)
            for part in error["loc"]
            # "[key]" marks an error in a table's key (a watch phrase), not a key of its own.
            if not str(part).startswith("function-") and part != "[key]"
        ]
        # A channel's discriminated union adds its type tag to the location
        # (channels.NAME.TYPE.key); it is not a key the user wrote.
        if len(loc) > 3 and loc[0] == "channels" and loc[2] in CHANNEL_TYPES:
            del loc[2]
        key = ".".join(loc) or "(top level)"
        line = _line_of(text, loc)
        at = f"line {line}: " if line else ""
        lines.append(f"  {at}{key}: {error['msg']}")
    lines.append("Fix the key(s) above; `newswatch config show` prints the defaults.")
    return "\n".join(lines)


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line of a dotted key in a TOML file: the key under its deepest table
    header, else the header itself, else a top-level key."""
    lines = text.splitlines()
    for depth in range(len(loc), 0, -1):
        header = re.compile(
            r"^\s*\[\[?\s*"
            + r"\s*\.\s*".join(_toml_key(part) for part in loc[:depth])
            + r"\s*\]\]?\s*(#.*)?$"
        )
        for index, line in enumerate(lines):
            if header.match(line):
                return _key_line(lines, index + 1, loc[depth:]) or index + 1
    return _key_line(lines, 0, loc)


def _key_line(lines: list[str], start: int, keys: list[str]) -> int | None:
    """The line of keys[0] = ... in the table that starts at `start`."""
    if not keys:
        return None
    pattern = re.compile(r"^\s*" + _toml_key(keys[0]) + r"\s*=")
    for index in range(start, len(lines)):
        if lines[index].lstrip().startswith("["):
            return None
        if pattern.match(lines[index]):
            return index + 1
    return None


def _toml_key(key: str) -> str:
    """A pattern for one key as TOML may write it: bare or quoted (watch phrases are quoted:
    ``"trade secret(s)" = 3.0``)."""
    k = re.escape(key)
    return rf"(?:{k}|\"{k}\"|'{k}')"
